import type { Counter, Gauge, Histogram, Meter } from "@opentelemetry/api"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import { Context, Data, Duration, Effect, Layer } from "effect"
import { resolveServiceName, TelemetryConfig } from "./config.js"

/**
 * Metrics are OpenTelemetry instruments (sdk-metrics, already the project's OTel line) rendered by the
 * reference Prometheus serializer on each scrape. Why this over prom-client or Effect's Metric module:
 * one well-kept implementation of the text format, no second metrics model next to OTel, and the same
 * MeterProvider can later get an OTLP reader without touching the instruments.
 */
/**
 * `deferred`: redelivered later without judging the message (claim held elsewhere, store down);
 * `abandoned`: ack wait passed and another delivery may own it; `dead_letter_failed`: the copy to the
 * dead-letter stream failed, so the message was nak'ed instead.
 */
export type SettlementLabel = "acked" | "retried" | "dead_lettered" | "duplicate" | "deferred" | "abandoned" | "dead_letter_failed"
export const settlementLabels: ReadonlyArray<SettlementLabel> = ["acked", "retried", "dead_lettered", "duplicate", "deferred", "abandoned", "dead_letter_failed"]

/** A durable consumer's numbers as JetStream reports them in consumer info. */
export interface ConsumerState {
  /** Messages in the stream not yet delivered to the consumer (`num_pending`). */
  readonly pending: number
  readonly ackPending: number
  readonly redelivered: number
  /** Pull requests waiting at the server (`num_waiting`). */
  readonly waiting: number
}

export class MetricsCollectError extends Data.TaggedError("MetricsCollectError")<{ readonly cause: unknown }> {
  override get message() {
    return `collecting metrics failed: ${String(this.cause)}`
  }
}

export interface MetricsService {
  readonly messageProcessed: (consumer: string, outcome: SettlementLabel) => Effect.Effect<void>
  readonly recordHandlerDuration: (consumer: string, duration: Duration.DurationInput) => Effect.Effect<void>
  readonly recordPublishDuration: (subject: string, duration: Duration.DurationInput) => Effect.Effect<void>
  readonly setConsumerState: (stream: string, consumer: string, state: ConsumerState) => Effect.Effect<void>
  readonly setDeadLetterDepth: (stream: string, depth: number) => Effect.Effect<void>
  /** Dead letters in `stream` that came from one durable (`source_stream`/`consumer`). */
  readonly setConsumerDeadLetterDepth: (stream: string, source: { readonly stream: string; readonly consumer: string }, depth: number) => Effect.Effect<void>
  /** One HTTP request served on a route (the route's pattern, e.g. `/orders/:id`, never the raw URL). */
  readonly recordHttpRequest: (request: { readonly method: string; readonly route: string; readonly status: number }, duration: Duration.DurationInput) => Effect.Effect<void>
  /** Prometheus text exposition format (version 0.0.4). */
  readonly prometheus: Effect.Effect<string, MetricsCollectError>
  /** For modules that need instruments of their own; they show up in `prometheus` too. */
  readonly meter: Meter
}

export class Metrics extends Context.Tag("@conveyor/telemetry/Metrics")<Metrics, MetricsService>() {}

/** Collects only when scraped; there is nothing to push, so flush and shutdown have nothing to do. */
class ScrapeReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve()
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
}

// Handler and publish latencies span sub-millisecond acks to multi-second external calls.
const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

const seconds = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d)) / 1000

const record = (f: () => void): Effect.Effect<void> => Effect.sync(f)

export const makeMetrics = (options: { readonly serviceName: string }) =>
  Effect.gen(function* () {
    const reader = new ScrapeReader()
    const provider = yield* Effect.acquireRelease(
      Effect.sync(
        () => new MeterProvider({ resource: resourceFromAttributes({ "service.name": options.serviceName }), readers: [reader] })
      ),
      (provider) => Effect.ignore(Effect.promise(() => provider.shutdown()))
    )
    const meter = provider.getMeter("conveyor")
    const processed: Counter = meter.createCounter("conveyor_messages_processed", {
      description: "Messages handled by a consumer, by outcome (acked, retried, dead_lettered, duplicate, deferred, abandoned, dead_letter_failed)"
    })
    const handlerDuration: Histogram = meter.createHistogram("conveyor_handler_duration_seconds", {
      description: "Time one delivery took from the handler to what the broker was told (idempotency claim, outputs published and the ack included)",
      advice: { explicitBucketBoundaries: secondsBuckets }
    })
    const publishDuration: Histogram = meter.createHistogram("conveyor_publish_duration_seconds", {
      description: "Time from publish to the JetStream PubAck",
      advice: { explicitBucketBoundaries: secondsBuckets }
    })
    const gauge = (name: string, description: string): Gauge => meter.createGauge(name, { description })
    const pending = gauge("conveyor_consumer_pending", "Messages not yet delivered to the consumer")
    const ackPending = gauge("conveyor_consumer_ack_pending", "Messages delivered and not yet acknowledged")
    const redelivered = gauge("conveyor_consumer_redelivered", "Messages delivered more than once and not yet acknowledged")
    const waiting = gauge("conveyor_consumer_waiting", "Pull requests waiting at the server")
    const deadLetterDepth = gauge("conveyor_dead_letter_depth", "Messages in the dead-letter stream")
    const consumerDeadLetterDepth = gauge("conveyor_consumer_dead_letter_depth", "Messages in the dead-letter stream that came from this durable")
    const httpDuration: Histogram = meter.createHistogram("conveyor_http_request_duration_seconds", {
      description: "HTTP requests served, by method, route and status (its _count is the request count)",
      advice: { explicitBucketBoundaries: secondsBuckets }
    })
    // No scope labels: every instrument here comes from one meter, so they would only add noise.
    const serializer = new PrometheusSerializer(undefined, false, undefined, false, true)
    const seen = new Set<string>()

    const service: MetricsService = {
      meter,
      messageProcessed: (consumer, outcome) =>
        record(() => {
          // Zero every outcome the first time a consumer shows up, so rate() works from the first scrape.
          if (!seen.has(consumer)) {
            seen.add(consumer)
            for (const o of settlementLabels) processed.add(0, { consumer, outcome: o })
          }
          processed.add(1, { consumer, outcome })
        }),
      recordHandlerDuration: (consumer, d) => record(() => handlerDuration.record(seconds(d), { consumer })),
      recordPublishDuration: (subject, d) => record(() => publishDuration.record(seconds(d), { subject })),
      setConsumerState: (stream, consumer, state) =>
        record(() => {
          const labels = { stream, consumer }
          pending.record(state.pending, labels)
          ackPending.record(state.ackPending, labels)
          redelivered.record(state.redelivered, labels)
          waiting.record(state.waiting, labels)
        }),
      setDeadLetterDepth: (stream, depth) => record(() => deadLetterDepth.record(depth, { stream })),
      setConsumerDeadLetterDepth: (stream, source, depth) =>
        record(() => consumerDeadLetterDepth.record(depth, { stream, source_stream: source.stream, consumer: source.consumer })),
      recordHttpRequest: ({ method, route, status }, d) => record(() => httpDuration.record(seconds(d), { method, route, status: String(status) })),
      prometheus: Effect.tryPromise({
        try: () => reader.collect(),
        catch: (cause) => new MetricsCollectError({ cause })
      }).pipe(Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics)))
    }
    return service
  })

/** The service name comes from OTEL_SERVICE_NAME, like the traces' resource. */
export const layerMetrics = (options?: { readonly serviceName?: string | undefined }) =>
  Layer.scoped(
    Metrics,
    Effect.flatMap(TelemetryConfig, (config) =>
      makeMetrics({
        serviceName: resolveServiceName(config, options?.serviceName)
      })
    )
  )
