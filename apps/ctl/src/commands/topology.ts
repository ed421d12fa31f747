import { ensureTopology } from "@conveyor/nats"
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { connectionFlags, withNats } from "../connection.js"
import { ctlError, ExitCode, fromLibraryError } from "../errors.js"
import { declaredTopology, diffTopology, hasChanges, renderDiff } from "./topology-plan.js"

const source = {
  file: Options.text("file").pipe(
    Options.withDescription("a topology JSON file ({ streams, consumers, buckets } as in @conveyor/topology), merged over the default (repeatable)"),
    Options.repeated
  ),
  noDefault: Options.boolean("no-default").pipe(Options.withDescription("leave out the order domain's topology; only --file"))
}

const json = Options.boolean("json").pipe(Options.withDescription("print the plan as JSON"))

const diffCommand = Command.make(
  "diff",
  {
    nats: connectionFlags,
    ...source,
    json,
    failOnChange: Options.boolean("fail-on-change").pipe(Options.withDescription("exit with code 6 when anything differs (for CI drift checks)"))
  },
  (args) =>
    withNats(
      args.nats,
      Effect.gen(function* () {
        const diff = yield* diffTopology(yield* declaredTopology(args.file, !args.noDefault))
        yield* Console.log(args.json ? JSON.stringify(diff, null, 2) : renderDiff(diff))
        if (args.failOnChange && hasChanges(diff)) {
          return yield* ctlError(ExitCode.checkFailed, `topology differs: ${diff.summary.create} to create, ${diff.summary.update} to update, ${diff.summary.drift} drifted`)
        }
      })
    )
).pipe(Command.withDescription("compare the declared topology with the server; changes nothing"))

const applyCommand = Command.make("apply", { nats: connectionFlags, ...source, json }, (args) =>
  withNats(
    args.nats,
    Effect.gen(function* () {
      const topology = yield* declaredTopology(args.file, !args.noDefault)
      const plan = yield* diffTopology(topology)
      const report = args.json
        ? Console.log(JSON.stringify(plan, null, 2))
        : Console.log(`${renderDiff(plan)}\napplied: ${plan.summary.create} created, ${plan.summary.update} updated`)
      // Drift is reported (exit code 7) after everything else is applied; show the plan either way.
      yield* ensureTopology(topology).pipe(Effect.mapError(fromLibraryError), Effect.tapError(() => report))
      yield* report
    })
  )
).pipe(Command.withDescription("create what is missing and update what can be updated; report drift it cannot fix (exit 7)"))

export const topologyCommand = Command.make("topology").pipe(
  Command.withDescription("declared topology versus the server"),
  Command.withSubcommands([diffCommand, applyCommand])
)
