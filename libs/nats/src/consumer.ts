import {
  type IdempotencyStoreShape,
  type Middleware,
  type MessageHandler,
  metrics as countAndTime,
  type RetryPolicy,
  redeliveryWindowMs,
  startConsumer,
  type TaggedFailure,
  tracedPublisher,
  tracing
} from "@conveyor/messaging"
import type { MetricsService } from "@conveyor/telemetry"
import type { ConsumerSpec } from "@conveyor/topology"
import { Data, Effect } from "effect"
import { type NatsClient, NatsConnection } from "./connection.js"
import { defaultDeadLetters, makeJetStreamDeadLetterSink, type DeadLetterStreamOptions } from "./dead-letters.js"
import { makeJetStreamPublisher, serverAttributes } from "./publisher.js"
import { pullDeliveries } from "./pull.js"
import { registerConsumerCheck } from "./readiness.js"
import { errorText } from "./errors.js"
import { isStreamNotFound } from "./internal/jetstream-errors.js"
import { superviseConsumer } from "./supervision.js"

export class InvalidConsumerConfig extends Data.TaggedError("InvalidConsumerConfig")<{ readonly consumer: string; readonly reason: string }> {
  override get message() {
    return `consumer ${this.consumer}: ${this.reason}`
  }
}

/** The consumer's dead-letter stream is missing at start-up: every dead letter would fail to be copied. */
export class DeadLetterStreamMissing extends Data.TaggedError("DeadLetterStreamMissing")<{ readonly consumer: string; readonly stream: string }> {
  override get message() {
    return `consumer ${this.consumer}: dead-letter stream ${this.stream} does not exist (ensure deadLetterTopology() before starting consumers)`
  }
}

/**
 * Fails when the dead-letter stream does not exist (a missing one would turn every dead letter
 * into a "dead-letter copy failed" retry loop). Any other answer (no permission, a timeout) is
 * left to the copy itself, which reports and retries it.
 */
const checkDeadLetterStream = (client: NatsClient, consumer: string, stream: string) =>
  Effect.tryPromise({ try: () => client.jsm.streams.info(stream), catch: (e) => e }).pipe(
    Effect.asVoid,
    Effect.catchAll((e) =>
      isStreamNotFound(e)
        ? Effect.fail(new DeadLetterStreamMissing({ consumer, stream }))
        : Effect.logWarning(`consumer ${consumer}: cannot check dead-letter stream ${stream}: ${errorText(e)}`)
    )
  )

export interface JetStreamConsumerOptions {
  readonly consumer: ConsumerSpec
  readonly retry: RetryPolicy
  readonly concurrency?: number
  readonly shutdownGraceMs?: number
  /**
   * A handler still running after this long is interrupted and its delivery retried with backoff
   * like a retryable failure (heartbeats would keep a hung handler's message forever). Default: none.
   */
  readonly handlerTimeoutMs?: number
  /** Idempotency store; without one, delivery is at-least-once. */
  readonly idempotency?: IdempotencyStoreShape
  /** Where dead letters go; `false` terminates without a copy (not recommended). */
  readonly deadLetters?: DeadLetterStreamOptions | false
  readonly confirmAcks?: boolean
  /** Count and time every delivery, and time output publishes, into these metrics. Default: none. */
  readonly metrics?: MetricsService | undefined
  /** Your middlewares, outermost first: inside tracing and metrics, around the handling and the settlement. */
  readonly middlewares?: ReadonlyArray<Middleware<any>>
}

/**
 * Runs a handler on a durable pull consumer with the reliability middlewares: outputs published
 * before the ack, idempotency, heartbeats with fencing; dead letters and retries by the policy.
 * Refuses a configuration whose idempotency TTL is shorter than the redelivery window, and fails
 * at start when the dead-letter stream does not exist (`DeadLetterStreamMissing`).
 */
export const runJetStreamConsumer = <A, I, E extends TaggedFailure, R>(handler: MessageHandler<A, I, E, R>, options: JetStreamConsumerOptions) =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const spec = options.consumer
    const name = `${spec.stream}/${spec.durable}`
    const concurrency = options.concurrency ?? 16
    if (options.idempotency !== undefined) {
      const window = redeliveryWindowMs(options.retry, spec.ackWaitMs)
      if (options.idempotency.ttlMs > 0 && options.idempotency.ttlMs < window) {
        return yield* new InvalidConsumerConfig({
          consumer: name,
          reason: `idempotency TTL ${options.idempotency.ttlMs} ms is shorter than the redelivery window ${window} ms (ack wait × attempts + backoff); a late redelivery could repeat the side effect`
        })
      }
    }
    if (spec.maxDeliver !== -1 && spec.maxDeliver < options.retry.maxAttempts) {
      return yield* new InvalidConsumerConfig({
        consumer: name,
        reason: `max_deliver ${spec.maxDeliver} is below the retry policy's ${options.retry.maxAttempts} attempts: the server would drop messages before they are dead-lettered`
      })
    }
    if (options.deadLetters !== false) yield* checkDeadLetterStream(client, name, (options.deadLetters ?? defaultDeadLetters).stream)
    const metrics = options.metrics
    const source = (stop: Effect.Effect<void>) =>
      pullDeliveries(client, { stream: spec.stream, durable: spec.durable, batch: concurrency, confirmAcks: options.confirmAcks ?? true }, stop)
    const running = yield* startConsumer(source, handler, {
      name,
      concurrency,
      retry: options.retry,
      ...(options.deadLetters === false ? {} : { deadLetters: makeJetStreamDeadLetterSink(client, options.deadLetters ?? defaultDeadLetters) }),
      shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
      handlerTimeoutMs: options.handlerTimeoutMs,
      publishOutputs: { publisher: tracedPublisher(makeJetStreamPublisher(client), metrics), retryDelayMs: options.retry.initialDelayMs },
      ...(options.idempotency !== undefined
        ? { idempotency: { store: options.idempotency, leaseMs: spec.ackWaitMs, unavailableDelayMs: options.retry.initialDelayMs, keyPrefix: `${spec.durable}.` } }
        : {}),
      heartbeat: { ackWaitMs: spec.ackWaitMs },
      // Traced when a tracer is installed (without one the delivery only passes its trace context on).
      middlewares: [yield* tracing, ...(metrics !== undefined ? [countAndTime(metrics, spec.durable)] : []), ...(options.middlewares ?? [])]
    }).pipe(
      // The broker on every span the consumer makes (process, its publishes, the dead-letter copy):
      // the server it was connected to as it started.
      Effect.annotateSpans(serverAttributes(client))
    )
    yield* registerConsumerCheck(running)
    yield* superviseConsumer(running)
    return running
  })
