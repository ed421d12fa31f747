import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { connectionFlags, withNats } from "../connection.js"
import { defaultWorkflowBucket, readWorkflow, renderWorkflow } from "./workflow-view.js"

const showCommand = Command.make(
  "show",
  {
    nats: connectionFlags,
    id: Args.text({ name: "id" }).pipe(Args.withDescription("the workflow id (the order id)")),
    bucket: Options.text("bucket").pipe(Options.withDescription("KV bucket of the instances"), Options.withDefault(defaultWorkflowBucket)),
    json: Options.boolean("json").pipe(Options.withDescription("print the stored entry as JSON"))
  },
  (args) =>
    withNats(
      args.nats,
      Effect.flatMap(readWorkflow(args.id, args.bucket), (view) =>
        Console.log(args.json ? JSON.stringify(view, null, 2) : renderWorkflow(view))
      )
    )
).pipe(Command.withDescription("a workflow instance's state, history and trace id"))

export const workflowCommand = Command.make("workflow").pipe(
  Command.withDescription("workflow instances"),
  Command.withSubcommands([showCommand])
)
