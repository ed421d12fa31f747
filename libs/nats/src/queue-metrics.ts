import { Metrics, type MetricsService } from "@conveyor/telemetry"
import { Duration, Effect, Layer, Schedule, type Scope } from "effect"
import { NatsConnection, type NatsClient } from "./connection.js"
import { defaultDeadLetters } from "./dead-letters.js"
import { errorText } from "./errors.js"

export interface QueueMetricsOptions {
  /** Durable consumers whose numbers to report (e.g. `topology.consumers`). */
  readonly consumers: ReadonlyArray<{ readonly stream: string; readonly durable: string }>
  /** Streams whose message count is a dead-letter depth; default the standard dead-letter stream. */
  readonly deadLetterStreams?: ReadonlyArray<string>
  /** Between polls; default 15 s (a Prometheus scrape interval). */
  readonly interval?: Duration.DurationInput
}

/**
 * One round: consumer info (pending, ack pending, redelivered, waiting) and dead-letter stream
 * depth into the Metrics gauges. A resource that cannot be read (server away, consumer not created
 * yet) keeps its last values; the next round tries again.
 */
export const collectQueueMetrics = (client: NatsClient, metrics: MetricsService, options: QueueMetricsOptions): Effect.Effect<void> => {
  const skip = (what: string) => (e: unknown) => Effect.logDebug(`queue metrics: cannot read ${what}`, { reason: errorText(e) })
  const consumers = Effect.forEach(
    options.consumers,
    ({ stream, durable }) =>
      Effect.tryPromise(() => client.jsm.consumers.info(stream, durable)).pipe(
        Effect.flatMap((info) =>
          metrics.setConsumerState(stream, durable, {
            pending: info.num_pending,
            ackPending: info.num_ack_pending,
            redelivered: info.num_redelivered,
            waiting: info.num_waiting
          })
        ),
        Effect.catchAll((e) => skip(`consumer ${stream}/${durable}`)(e.error))
      ),
    { concurrency: 4, discard: true }
  )
  const deadLetters = Effect.forEach(
    options.deadLetterStreams ?? [defaultDeadLetters.stream],
    (stream) =>
      Effect.tryPromise(() => client.jsm.streams.info(stream)).pipe(
        Effect.flatMap((info) => metrics.setDeadLetterDepth(stream, info.state.messages)),
        Effect.catchAll((e) => skip(`stream ${stream}`)(e.error))
      ),
    { concurrency: 4, discard: true }
  )
  return Effect.zipRight(consumers, deadLetters)
}

/** Polls now and then every `interval` for the lifetime of the scope. */
export const pollQueueMetrics = (options: QueueMetricsOptions): Effect.Effect<void, never, NatsConnection | Metrics | Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const metrics = yield* Metrics
    const round = collectQueueMetrics(client, metrics, options)
    yield* Effect.forkScoped(Effect.repeat(round, Schedule.spaced(Duration.decode(options.interval ?? Duration.seconds(15)))))
  })

export const layerQueueMetrics = (options: QueueMetricsOptions): Layer.Layer<never, never, NatsConnection | Metrics> =>
  Layer.scopedDiscard(pollQueueMetrics(options))
