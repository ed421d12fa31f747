import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option, Schedule } from "effect"
import { connectionFlags, withNats } from "../connection.js"
import { collectStatus, lagCheck, renderStatus, type StatusReport } from "./status-report.js"

const flags = {
  nats: connectionFlags,
  json: Options.boolean("json").pipe(Options.withDescription("print JSON instead of tables (one object per refresh with --watch)")),
  watch: Options.boolean("watch").pipe(Options.withDescription("refresh in place until interrupted")),
  interval: Options.integer("interval").pipe(Options.withDescription("seconds between refreshes with --watch"), Options.withDefault(2)),
  failOnLag: Options.integer("fail-on-lag").pipe(
    Options.withDescription("exit with code 6 when a consumer's lag (pending + ack pending) is above N"),
    Options.optional
  ),
  stream: Options.text("stream").pipe(Options.withDescription("only this stream (repeatable)"), Options.repeated),
  all: Options.boolean("all").pipe(Options.withDescription("include the KV_* streams behind KV buckets"))
}

// Home, then clear: the table is redrawn where it was instead of scrolling.
const CLEAR = "\x1b[H\x1b[2J"

export const statusCommand = Command.make("status", flags, (args) =>
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
).pipe(Command.withDescription("streams and consumers: messages, bytes, sequences, pending, ack pending, redeliveries, waiting pulls, lag"))
