import type { Middleware, Settlement } from "@conveyor/messaging"
import { Metrics, type MetricsService } from "@conveyor/telemetry"
import { Context, Effect, Layer, Option } from "effect"

export type SettlementCounts = Readonly<Record<string, Readonly<Partial<Record<Settlement, number>>>>>

/**
 * Counts what each consumer did with its deliveries, per durable and settlement, for the demo's
 * table. Prometheus gets its counts from the consumer itself (`conveyor_messages_processed_total`,
 * counted once per delivery by `runJetStreamConsumer` given the app's Metrics), not from here.
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

/** A middleware that counts what the broker was told about each delivery into `settlements`. */
export const recordSettlements =
  (settlements: SettlementsShape, durable: string): Middleware =>
  (next) =>
  (delivery) =>
    Effect.tap(next(delivery), (result) => Effect.sync(() => settlements.record(durable, result.settlement)))

/**
 * What every order consumer is run with besides its handler: the app's Metrics when it provides
 * them, and the demo's Settlements counter when it provides one.
 */
export const consumerTelemetry = (
  durable: string
): Effect.Effect<{ readonly metrics: MetricsService | undefined; readonly middlewares: ReadonlyArray<Middleware> }> =>
  Effect.map(Effect.all([Effect.serviceOption(Metrics), Effect.serviceOption(Settlements)]), ([metrics, settlements]) => ({
    metrics: Option.getOrUndefined(metrics),
    middlewares: Option.isSome(settlements) ? [recordSettlements(settlements.value, durable)] : []
  }))
