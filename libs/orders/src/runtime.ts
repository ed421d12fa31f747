import { makeRetryPolicy, type RetryPolicy } from "@conveyor/messaging"
import { ensureTopology, NatsConnection, openKvIdempotencyStore } from "@conveyor/nats"
import { idempotencyBucket, orderTopology } from "@conveyor/domain"
import { type ConsumerSpec, replicatedTopology } from "@conveyor/topology"
import { Config, Effect, Schedule } from "effect"

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
 * Creates or updates the order topology unless `CONVEYOR_ENSURE_TOPOLOGY=false` (when a separate
 * provisioning identity owns it), with every stream and bucket on `CONVEYOR_TOPOLOGY_REPLICAS`
 * nodes (default 1; 3 on a three-node cluster). Several apps starting at once race to create the
 * same streams, so a failure is retried a few times before it stops start-up.
 */
export const provisionOrderTopology = Effect.gen(function* () {
  const enabled = yield* Config.boolean("CONVEYOR_ENSURE_TOPOLOGY").pipe(Config.withDefault(true))
  if (!enabled) return
  const replicas = yield* Config.integer("CONVEYOR_TOPOLOGY_REPLICAS").pipe(Config.withDefault(1), Config.validate({ message: "must be 1 to 5", validation: (n) => n >= 1 && n <= 5 }))
  yield* ensureTopology(replicatedTopology(orderTopology, replicas)).pipe(
    Effect.retry({ times: 5, schedule: Schedule.spaced("500 millis") })
  )
})

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
