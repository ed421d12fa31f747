import { NatsConnection } from "@conveyor/nats/connection"
import type { ProvisioningFailed } from "@conveyor/nats"
import { kvStreamName, planTopology, type TopologyReport } from "@conveyor/nats/provisioning"
import type { ResourceDiff, Topology } from "@conveyor/topology"
import { Effect } from "effect"

/** Declared topology against the server: what `conveyor topology diff` prints and the console's topology page shows. */
export interface TopologyDiff {
  readonly diffs: ReadonlyArray<ResourceDiff>
  /**
   * Streams on the server that nothing declares (KV streams of declared buckets excluded); null
   * when the server would not list stream names (a user without that permission).
   */
  readonly undeclared: ReadonlyArray<string> | null
  readonly summary: { readonly create: number; readonly update: number; readonly drift: number; readonly inSync: number }
}

export const summarize = (report: TopologyReport, undeclared: ReadonlyArray<string> | null): TopologyDiff => ({
  diffs: report.diffs,
  undeclared,
  summary: {
    create: report.diffs.filter((d) => d.plan._tag === "Create").length,
    update: report.diffs.filter((d) => d.plan._tag === "Update").length,
    drift: report.diffs.filter((d) => d.drift.length > 0).length,
    inSync: report.diffs.filter((d) => d.plan._tag === "InSync" && d.drift.length === 0).length
  }
})

export const diffTopology = (topology: Topology): Effect.Effect<TopologyDiff, ProvisioningFailed, NatsConnection> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const report = yield* planTopology(client, topology)
    const declared = new Set([...topology.streams.map((s) => s.name), ...topology.buckets.map((b) => kvStreamName(b.name))])
    const names = yield* Effect.tryPromise(async () => {
      const out: Array<string> = []
      for await (const name of client.jsm.streams.names()) out.push(name)
      return out
    }).pipe(Effect.orElseSucceed(() => null))
    return summarize(report, names === null ? null : names.filter((n) => !declared.has(n)).sort())
  })

export const hasChanges = (diff: TopologyDiff): boolean => diff.summary.create + diff.summary.update + diff.summary.drift > 0
