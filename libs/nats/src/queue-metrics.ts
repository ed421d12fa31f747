import { Metrics, type MetricsService } from "@conveyor/telemetry"
import { Config, type ConfigError, Duration, Effect, Layer, Schedule, type Scope } from "effect"
import { NatsConnection, type NatsClient } from "./connection.js"
import { defaultDeadLetters } from "./dead-letters.js"
import { errorText } from "./errors.js"

export interface QueueMetricsOptions {
  /** Durable consumers whose numbers to report (e.g. `topology.consumers`). */
  readonly consumers: ReadonlyArray<{ readonly stream: string; readonly durable: string }>
  /** Streams whose message count is a dead-letter depth; default the standard dead-letter stream. */
  readonly deadLetterStreams?: ReadonlyArray<string>
  /** Between polls; default `QUEUE_METRICS_INTERVAL_MS`, else 15 s (a Prometheus scrape interval). */
  readonly interval?: Duration.DurationInput
}

/** `QUEUE_METRICS_INTERVAL_MS` (default 15000): how often the queue gauges are read, so how far they may lag. */
export const QueueMetricsInterval = Config.integer("QUEUE_METRICS_INTERVAL_MS").pipe(
  Config.validate({ message: "QUEUE_METRICS_INTERVAL_MS must be a positive number of milliseconds", validation: (n) => n > 0 }),
  Config.withDefault(15_000),
  Config.map(Duration.millis)
)

/** Dead letters per source durable, from the stream's per-subject counts (`<prefix>.<stream>.<durable>`). */
const countsBySource = (subjects: Readonly<Record<string, number>> | undefined): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const [subject, n] of Object.entries(subjects ?? {})) {
    const tokens = subject.split(".")
    const source = tokens.slice(-2).join("/")
    counts.set(source, (counts.get(source) ?? 0) + n)
  }
  return counts
}

/**
 * One round: consumer info (pending, ack pending, redelivered, waiting), dead-letter stream depth
 * and, per consumer in `consumers`, how many of those dead letters came from it (0 when none) into
 * the Metrics gauges. A resource that cannot be read (server away, consumer not created
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
      Effect.tryPromise(() => client.jsm.streams.info(stream, { subjects_filter: ">" })).pipe(
        Effect.flatMap((info) => {
          const bySource = countsBySource(info.state.subjects)
          return Effect.zipRight(
            metrics.setDeadLetterDepth(stream, info.state.messages),
            Effect.forEach(options.consumers, (c) =>
              metrics.setConsumerDeadLetterDepth(stream, { stream: c.stream, consumer: c.durable }, bySource.get(`${c.stream}/${c.durable}`) ?? 0), { discard: true })
          )
        }),
        Effect.catchAll((e) => skip(`stream ${stream}`)(e.error))
      ),
    { concurrency: 4, discard: true }
  )
  return Effect.zipRight(consumers, deadLetters)
}

/** Polls now and then every `interval` for the lifetime of the scope. */
export const pollQueueMetrics = (options: QueueMetricsOptions): Effect.Effect<void, ConfigError.ConfigError, NatsConnection | Metrics | Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const metrics = yield* Metrics
    const round = collectQueueMetrics(client, metrics, options)
    const interval = options.interval === undefined ? yield* QueueMetricsInterval : Duration.decode(options.interval)
    yield* Effect.forkScoped(Effect.repeat(round, Schedule.spaced(interval)))
  })

export const layerQueueMetrics = (options: QueueMetricsOptions): Layer.Layer<never, ConfigError.ConfigError, NatsConnection | Metrics> =>
  Layer.scopedDiscard(pollQueueMetrics(options))
