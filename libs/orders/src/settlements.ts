import type { RunnerOptions, Settlement } from "@conveyor/messaging"
import { Metrics, type ProcessOutcome } from "@conveyor/telemetry"
import { Context, Effect, Layer, Option } from "effect"

export type SettlementCounts = Readonly<Record<string, Readonly<Partial<Record<Settlement, number>>>>>

/**
 * Counts what each consumer did with its deliveries, per durable and settlement. The demo reads it
 * for its table; every app also forwards it to the Prometheus metrics.
 */
export interface SettlementsShape {
  readonly record: (consumer: string, settlement: Settlement) => void
  readonly snapshot: () => SettlementCounts
  readonly total: (settlement: Settlement) => number
}

export class Settlements extends Context.Tag("@conveyor/orders/Settlements")<Settlements, SettlementsShape>() {}

export const makeSettlements = (): SettlementsShape => {
  const counts = new Map<string, Map<Settlement, number>>()
  return {
    record: (consumer, settlement) => {
      const per = counts.get(consumer) ?? new Map<Settlement, number>()
      counts.set(consumer, per)
      per.set(settlement, (per.get(settlement) ?? 0) + 1)
    },
    snapshot: () => Object.fromEntries([...counts].map(([c, per]) => [c, Object.fromEntries(per)])),
    total: (settlement) => [...counts.values()].reduce((sum, per) => sum + (per.get(settlement) ?? 0), 0)
  }
}

export const SettlementsLive = Layer.sync(Settlements, makeSettlements)

const outcomeOf: Partial<Record<Settlement, ProcessOutcome>> = {
  acked: "acked",
  retried: "retried",
  deferred: "retried",
  "dead-lettered": "dead_lettered",
  duplicate: "duplicate"
}

/** An `onSettled` hook feeding Settlements (if provided) and the Metrics service (if provided). */
export const settlementRecorder = (durable: string): Effect.Effect<RunnerOptions["onSettled"] & {}> =>
  Effect.gen(function* () {
    const settlements = yield* Effect.serviceOption(Settlements)
    const metrics = yield* Effect.serviceOption(Metrics)
    return (_delivery, _outcome, settlement) => {
      if (Option.isSome(settlements)) settlements.value.record(durable, settlement)
      const outcome = outcomeOf[settlement]
      if (Option.isSome(metrics) && outcome !== undefined) Effect.runFork(metrics.value.messageProcessed(durable, outcome))
    }
  })
