import { Command, Options } from "@effect/cli"
import { connectionFlags } from "../connection-flags.js"
import { runFrom } from "../lazy.js"

export const statusFlags = {
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

export const statusCommand = Command.make("status", statusFlags, (args) => runFrom(() => import("./status-run.js"), (m) => m.status(args))).pipe(
  Command.withDescription("streams and consumers: messages, bytes, sequences, pending, ack pending, redeliveries, waiting pulls, lag")
)
