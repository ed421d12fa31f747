import { ensureTopology } from "@conveyor/nats/provisioning"
import type { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { withNats } from "../connection.js"
import { ctlError, ExitCode, fromLibraryError } from "../errors.js"
import type { applyFlags, diffFlags } from "./topology.js"
import { declaredTopology, diffTopology, hasChanges, renderDiff } from "./topology-plan.js"

export const diff = (args: Command.Command.ParseConfig<typeof diffFlags>) =>
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

export const apply = (args: Command.Command.ParseConfig<typeof applyFlags>) =>
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
