import { Buckets } from "@conveyor/domain"
import { Args, Command, Options } from "@effect/cli"
import { connectionFlags } from "../connection-flags.js"
import { runFrom } from "../lazy.js"

export const showFlags = {
  nats: connectionFlags,
  id: Args.text({ name: "id" }).pipe(Args.withDescription("the workflow id (the order id)")),
  bucket: Options.text("bucket").pipe(Options.withDescription("KV bucket of the instances"), Options.withDefault(Buckets.workflows)),
  json: Options.boolean("json").pipe(Options.withDescription("print the stored entry as JSON"))
}

const showCommand = Command.make("show", showFlags, (args) => runFrom(() => import("./workflow-run.js"), (m) => m.show(args))).pipe(
  Command.withDescription("a workflow instance's state, history and trace id")
)

export const workflowCommand = Command.make("workflow").pipe(
  Command.withDescription("workflow instances"),
  Command.withSubcommands([showCommand])
)
