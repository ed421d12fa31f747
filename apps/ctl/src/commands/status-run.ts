import type { Command } from "@effect/cli"
import { Console, Duration, Effect, Option, Schedule } from "effect"
import { withNats } from "../connection.js"
import type { statusFlags } from "./status.js"
import { collectStatus, lagCheck, renderStatus, type StatusReport } from "./status-report.js"

// Home, then clear: the table is redrawn where it was instead of scrolling.
const CLEAR = "\x1b[H\x1b[2J"

export const status = (args: Command.Command.ParseConfig<typeof statusFlags>) =>
  withNats(
    args.nats,
    Effect.gen(function* () {
      const interactive = args.watch && !args.json && process.stdout.isTTY === true
      const once = Effect.gen(function* () {
        const report: StatusReport = yield* collectStatus({ streams: args.stream, includeKv: args.all })
        if (args.json) yield* Console.log(JSON.stringify(report, null, args.watch ? undefined : 2))
        else if (interactive) yield* Console.log(`${CLEAR}conveyor status  ${report.at}  (every ${args.interval}s, Ctrl-C to stop)\n\n${renderStatus(report)}`)
        else yield* Console.log(`${args.watch ? `--- ${report.at}\n` : ""}${renderStatus(report)}`)
        const failed = Option.flatMap(args.failOnLag, (limit) => Option.fromNullable(lagCheck(report, limit)))
        if (Option.isSome(failed)) return yield* failed.value
      })
      yield* args.watch ? Effect.repeat(once, Schedule.spaced(Duration.seconds(Math.max(1, args.interval)))) : once
    })
  )
