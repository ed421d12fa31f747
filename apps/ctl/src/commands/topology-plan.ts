import { orderTopology } from "@conveyor/domain"
import { diffTopology as diff, type TopologyDiff } from "@conveyor/console/reads/topology"
import type { NatsConnection } from "@conveyor/nats/connection"
import { type Topology, defineTopology, type TopologyInput } from "@conveyor/topology"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { ctlError, type CtlError, ExitCode } from "../errors.js"

/**
 * The declared topology: the order domain's (its streams, the dead-letter stream, every durable and
 * bucket the apps use), plus any JSON files given, later declarations replacing earlier ones of the
 * same resource.
 */
export const declaredTopology = (files: ReadonlyArray<string>, withDefault: boolean): Effect.Effect<Topology, CtlError> =>
  Effect.gen(function* () {
    const parts: Array<Topology> = withDefault ? [orderTopology] : []
    for (const file of files) {
      const part = yield* Effect.try({
        try: () => defineTopology(JSON.parse(readFileSync(file, "utf8")) as Partial<TopologyInput>),
        catch: (e) => ctlError(ExitCode.usage, `topology file ${file}: ${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ")}`)
      })
      parts.push(part)
    }
    return mergeByName(parts)
  })

/** Unlike `mergeTopologies`, a resource declared twice appears once: the last declaration wins. */
export const mergeByName = (parts: ReadonlyArray<Topology>): Topology => {
  const byKey = <A>(items: ReadonlyArray<A>, key: (a: A) => string) => [...new Map(items.map((a) => [key(a), a])).values()]
  return {
    streams: byKey(parts.flatMap((p) => p.streams), (s) => s.name),
    consumers: byKey(parts.flatMap((p) => p.consumers), (c) => `${c.stream}/${c.durable}`),
    buckets: byKey(parts.flatMap((p) => p.buckets), (b) => b.name)
  }
}

export { hasChanges, summarize, type TopologyDiff } from "@conveyor/console/reads/topology"

export const diffTopology = (topology: Topology): Effect.Effect<TopologyDiff, CtlError, NatsConnection> =>
  diff(topology).pipe(Effect.mapError((e) => ctlError(/permission|authori[sz]ation/i.test(e.cause) ? ExitCode.auth : ExitCode.failure, e.message)))

const show = (v: unknown) => JSON.stringify(v)

export const renderDiff = (diff: TopologyDiff): string => {
  const lines: Array<string> = []
  for (const { plan, drift } of diff.diffs) {
    const name = `${plan.kind} ${plan.name}`
    if (plan._tag === "Create") lines.push(`+ ${name}: missing, apply creates it`)
    if (plan._tag === "Update") {
      lines.push(`~ ${name}: apply updates ${plan.changes.length} field(s)`)
      for (const c of plan.changes) lines.push(`    ${c.field}: server ${show(c.actual)} -> declared ${show(c.declared)}`)
    }
    if (drift.length > 0) {
      lines.push(`! ${name}: drift apply cannot fix (needs an operator: recreate or migrate)`)
      for (const c of drift) lines.push(`    ${c.field}: server ${show(c.actual)}, declared ${show(c.declared)}`)
    }
    if (plan._tag === "InSync" && drift.length === 0) lines.push(`= ${name}: in sync`)
  }
  if (diff.undeclared === null) lines.push("? undeclared streams not checked: the server would not list stream names")
  for (const name of diff.undeclared ?? []) lines.push(`? stream ${name}: on the server, not declared`)
  const s = diff.summary
  const undeclared = diff.undeclared === null ? "" : `, ${diff.undeclared.length} undeclared`
  lines.push("", `${s.create} to create, ${s.update} to update, ${s.drift} drifted, ${s.inSync} in sync${undeclared}`)
  return lines.join("\n")
}
