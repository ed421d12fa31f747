import { Args, Command, Options } from "@effect/cli"
import { StreamNames } from "@conveyor/domain"
import { connectionFlags } from "../connection-flags.js"
import { runFrom } from "../lazy.js"

const filterFlags = {
  subject: Options.text("subject").pipe(Options.withDescription("original subject; NATS wildcards allowed (orders.events.>)"), Options.optional),
  source: Options.text("source-stream").pipe(Options.withDescription("the stream the message came from"), Options.optional),
  consumer: Options.text("consumer").pipe(Options.withDescription("the durable that dead-lettered it"), Options.optional),
  error: Options.text("error").pipe(Options.withDescription("error tag, e.g. InvalidMessage"), Options.optional),
  errorContains: Options.text("error-contains").pipe(Options.withDescription("text in the error message (case-insensitive)"), Options.optional),
  since: Options.text("since").pipe(Options.withDescription("dead-lettered at or after: ISO time or 30m/2h/7d ago"), Options.optional),
  until: Options.text("until").pipe(Options.withDescription("dead-lettered before: ISO time or 30m/2h/7d ago"), Options.optional)
}
const dlqStream = Options.text("dlq-stream").pipe(Options.withDescription("the dead-letter stream"), Options.withDefault(StreamNames.deadLetters))
const json = Options.boolean("json").pipe(Options.withDescription("print JSON"))
const sequences = Args.integer({ name: "seq" }).pipe(Args.withDescription("dead-letter stream sequence(s)"), Args.repeated)
const all = Options.boolean("all").pipe(Options.withDescription("every dead letter (required when no sequence or filter is given)"))

const handlers = () => import("./dlq-run.js")

export const listFlags = {
  nats: connectionFlags, ...filterFlags, dlqStream, json,
  limit: Options.integer("limit").pipe(Options.withDescription("at most this many, oldest first"), Options.withDefault(200))
}

const listCommand = Command.make("list", listFlags, (args) => runFrom(handlers, (m) => m.list(args))).pipe(
  Command.withDescription("dead letters, oldest first, filtered by original subject, stream, consumer, error and time")
)

export const showFlags = { nats: connectionFlags, seq: Args.integer({ name: "seq" }).pipe(Args.withDescription("dead-letter stream sequence")), dlqStream, json }

const showCommand = Command.make("show", showFlags, (args) => runFrom(handlers, (m) => m.show(args))).pipe(
  Command.withDescription("one dead letter: its envelope, every header and the decoded payload")
)

export const replayFlags = {
  nats: connectionFlags, seqs: sequences, ...filterFlags, all, dlqStream, json,
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("show what would be replayed; change nothing")),
  rate: Options.float("rate").pipe(Options.withDescription("at most this many republishes per second"), Options.optional)
}

const replayCommand = Command.make("replay", replayFlags, (args) => runFrom(handlers, (m) => m.replay(args))).pipe(
  Command.withDescription("republish dead letters to their original subjects; each is removed only after its republish is acked")
)

export const purgeFlags = {
  nats: connectionFlags, seqs: sequences, ...filterFlags, all, dlqStream, json,
  yes: Options.boolean("yes").pipe(Options.withAlias("y"), Options.withDescription("do not ask; required in a non-interactive shell")),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("show what would be removed; change nothing"))
}

const purgeCommand = Command.make("purge", purgeFlags, (args) => runFrom(handlers, (m) => m.purge(args))).pipe(
  Command.withDescription("remove dead letters for good; asks first unless --yes")
)

export const dlqCommand = Command.make("dlq").pipe(
  Command.withDescription("dead letters: list, show, replay, purge"),
  Command.withSubcommands([listCommand, showCommand, replayCommand, purgeCommand])
)
