import type { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { withNats } from "../connection.js"
import type { showFlags } from "./workflow.js"
import { readWorkflow, renderWorkflow } from "./workflow-view.js"

export const show = (args: Command.Command.ParseConfig<typeof showFlags>) =>
  withNats(
    args.nats,
    Effect.flatMap(readWorkflow(args.id, args.bucket), (view) => Console.log(args.json ? JSON.stringify(view, null, 2) : renderWorkflow(view)))
  )
