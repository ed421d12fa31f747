import { Command, Options } from "@effect/cli"
import { connectionFlags } from "../connection-flags.js"
import { runFrom } from "../lazy.js"

const source = {
  file: Options.text("file").pipe(
    Options.withDescription("a topology JSON file ({ streams, consumers, buckets } as in @conveyor/topology), merged over the default (repeatable)"),
    Options.repeated
  ),
  noDefault: Options.boolean("no-default").pipe(Options.withDescription("leave out the order domain's topology; only --file"))
}

const json = Options.boolean("json").pipe(Options.withDescription("print the plan as JSON"))

const handlers = () => import("./topology-run.js")

export const diffFlags = {
  nats: connectionFlags,
  ...source,
  json,
  failOnChange: Options.boolean("fail-on-change").pipe(Options.withDescription("exit with code 6 when anything differs (for CI drift checks)"))
}

const diffCommand = Command.make("diff", diffFlags, (args) => runFrom(handlers, (m) => m.diff(args))).pipe(
  Command.withDescription("compare the declared topology with the server; changes nothing")
)

export const applyFlags = { nats: connectionFlags, ...source, json }

const applyCommand = Command.make("apply", applyFlags, (args) => runFrom(handlers, (m) => m.apply(args))).pipe(
  Command.withDescription("create what is missing and update what can be updated; report drift it cannot fix (exit 7)")
)

export const topologyCommand = Command.make("topology").pipe(
  Command.withDescription("declared topology versus the server"),
  Command.withSubcommands([diffCommand, applyCommand])
)
