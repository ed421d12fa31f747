import { type Delivery, makeRetryPolicy, type Middleware, oneAtATimePerKey, type RetryPolicy, type Settlement } from "@conveyor/messaging"
import { NatsConnection, openKvIdempotencyStore } from "@conveyor/nats"
import { idempotencyBucket, orderTopology } from "@conveyor/domain"
import { Metrics, type MetricsService } from "@conveyor/telemetry"
import type { ConsumerSpec } from "@conveyor/topology"
import { Config, Context, Effect, Layer, Option, type Schema } from "effect"

// What every order consumer (orchestrator, workers, notifier) is run with besides its handler.

/**
 * `make` options for a worker's answer: validated once, where it leaves the process (`ctx.message`
 * encodes it with its Schema), not also at construction.
 */
export const checkedWhenSent: Schema.MakeOptions = { disableValidation: true }

/**
 * Shared consumer settings of every order app (environment):
 * `CONSUMER_CONCURRENCY` (default 32), `RETRY_MAX_ATTEMPTS` (default 10),
 * `RETRY_INITIAL_DELAY_MS` (default 200), `RETRY_MAX_DELAY_MS` (default 5000),
 * `HANDLER_TIMEOUT_MS` (default 60000: a handler still running then is interrupted and retried).
 */
export const ConsumerConfig = Config.all({
  concurrency: Config.integer("CONSUMER_CONCURRENCY").pipe(Config.withDefault(32)),
  handlerTimeoutMs: Config.integer("HANDLER_TIMEOUT_MS").pipe(Config.withDefault(60_000)),
  retry: Config.all({
    maxAttempts: Config.integer("RETRY_MAX_ATTEMPTS").pipe(Config.withDefault(10)),
    initialDelayMs: Config.integer("RETRY_INITIAL_DELAY_MS").pipe(Config.withDefault(200)),
    maxDelayMs: Config.integer("RETRY_MAX_DELAY_MS").pipe(Config.withDefault(5_000))
  }).pipe(Config.map((r): RetryPolicy => makeRetryPolicy(r)))
})
export type ConsumerConfig = Config.Config.Success<typeof ConsumerConfig>

export const consumerSpec = (durable: string): ConsumerSpec => {
  const spec = orderTopology.consumers.find((c) => c.durable === durable)
  if (spec === undefined) throw new Error(`no durable ${durable} in the order topology`)
  return spec
}

/**
 * Options of the consumers whose deliveries are idempotent (the workers, through their stores; the
 * notifier, through its idempotency records): acks without waiting for the server's confirmation.
 * A lost ack only brings the message back after its ack wait, and a delivery of a message already
 * handled changes nothing and answers the same, so the confirmation bought nothing but a reply to
 * read per message.
 */
export const idempotentAcks = { confirmAcks: false } as const

/** The idempotency store of one durable: its own bucket, which no other app may read or write. */
export const openIdempotency = (durable: string) => Effect.flatMap(NatsConnection, (client) => openKvIdempotencyStore(client, idempotencyBucket(durable)))

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

const utf8 = new TextDecoder()

/** A command's order id, read off its JSON (the handler decodes it properly later); undefined when it has none. */
const orderIdOf = (delivery: Delivery): string | undefined => {
  try {
    const orderId: unknown = JSON.parse(utf8.decode(delivery.payload))?.orderId
    return typeof orderId === "string" ? orderId : undefined
  } catch {
    return undefined
  }
}

/**
 * A worker handles one order's commands one at a time, each answer published before the next
 * command of the order starts, so its answers come out in the order of its decisions: a re-sent
 * attempt read before its compensation wrote cannot answer after the compensation did (the events
 * would say "scheduled" after "recalled"). Commands of different orders run side by side as before.
 */
export const oneCommandPerOrder = (durable: string): Middleware => oneAtATimePerKey({ keyOf: orderIdOf, ackWaitMs: consumerSpec(durable).ackWaitMs })

/** What every worker (inventory, payments, shipping) is run with besides its handler and the shared settings. */
export const workerOptions = (durable: string) =>
  Effect.map(consumerTelemetry(durable), (telemetry) => ({
    ...idempotentAcks,
    metrics: telemetry.metrics,
    middlewares: [...telemetry.middlewares, oneCommandPerOrder(durable)]
  }))
