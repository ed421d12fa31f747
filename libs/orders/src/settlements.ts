import type { RunnerOptions, Settlement } from "@conveyor/messaging"
import { Context, Effect, Layer, Option } from "effect"

export type SettlementCounts = Readonly<Record<string, Readonly<Partial<Record<Settlement, number>>>>>

/**
 * Counts what each consumer did with its deliveries, per durable and settlement, for the demo's
 * table. Prometheus gets its counts from the consumer itself (`conveyor_messages_processed_total`,
 * counted once per delivery by `runJetStreamConsumer` when the app provides Metrics), not from here.
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

/** An `onSettled` hook feeding Settlements, if provided. */
export const settlementRecorder = (durable: string): Effect.Effect<RunnerOptions["onSettled"] & {}> =>
  Effect.map(Effect.serviceOption(Settlements), (settlements) =>
    Option.isSome(settlements) ? (_delivery, _outcome, settlement) => settlements.value.record(durable, settlement) : () => {}
  )
