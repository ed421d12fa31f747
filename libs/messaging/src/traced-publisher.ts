import { annotatePublishAck, Metrics, type MetricsService, producerSpan, producerSpans } from "@conveyor/telemetry"
import { Effect, Layer, Option } from "effect"
import type { OutgoingMessage } from "./outgoing.js"
import { Publisher } from "./publisher.js"

const TRACE_HEADERS = new Set(["traceparent", "tracestate", "baggage"])

/** A message's own headers without trace context: the publish span's context replaces it. */
const withoutTraceContext = (headers: Readonly<Record<string, string>> | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  for (const [k, v] of Object.entries(headers)) if (!TRACE_HEADERS.has(k.toLowerCase())) out[k] = v
  return out
}

/**
 * `effect`, then `record` with its milliseconds, whatever its outcome: read off `performance.now()`
 * around it (Effect.timed and Effect.exit cost about ten more steps per publish).
 */
const timedBy = <A, E>(effect: Effect.Effect<A, E>, record: (ms: number) => Effect.Effect<void>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.matchCauseEffect(effect, {
      onFailure: (cause) => Effect.zipRight(record(performance.now() - start), Effect.failCause(cause)),
      onSuccess: (value) => Effect.as(record(performance.now() - start), value)
    })
  })

/**
 * Decorates a publisher: each message gets a PRODUCER span `publish <subject>` whose W3C context goes
 * into its headers (replacing any it carried, e.g. a replayed dead letter's), the PubAck is noted on
 * the span, and, with `metrics`, the time to the PubAck is recorded. Inside a consumer span (a
 * handler's outputs) the publish span is its child, so the chain stays one trace.
 */
export const tracedPublisher = (
  inner: Publisher["Type"],
  metrics?: MetricsService,
  /** Put on every publish span as they are, e.g. the broker's `server.address` and `server.port`. */
  spanAttributes?: Readonly<Record<string, unknown>>
): Publisher["Type"] => {
  const send = (message: OutgoingMessage, traceHeaders: Record<string, string>) =>
    inner.publish({ ...message, headers: { ...withoutTraceContext(message.headers), ...traceHeaders } }).pipe(
      Effect.tap((ack) => annotatePublishAck({ stream: ack.stream, sequence: ack.seq, duplicate: ack.duplicate }))
    )
  const timed = <A, E>(subject: string, effect: Effect.Effect<A, E>) =>
    metrics === undefined ? effect : timedBy(effect, (ms) => metrics.recordPublishDuration(subject, ms))
  const publish = (message: OutgoingMessage) =>
    producerSpan(message.subject, { messageId: message.msgId, bodySize: message.payload.length, extra: spanAttributes })((traceHeaders) =>
      timed(message.subject, send(message, traceHeaders))
    )
  const publishAll: Publisher["Type"]["publishAll"] = (messages, options) => {
    const list = Array.from(messages)
    // The inner publisher keeps the batch pipelined; each message still gets its own span.
    return producerSpans(
      list.map((m) => ({ subject: m.subject, info: { messageId: m.msgId, bodySize: m.payload.length, extra: spanAttributes } })),
      (traceHeaders) =>
        timedBatch(
          list,
          inner.publishAll(
            list.map((m, i) => ({ ...m, headers: { ...withoutTraceContext(m.headers), ...traceHeaders[i] } })),
            options
          )
        ),
      (ack) => ({ stream: ack.stream, sequence: ack.seq, duplicate: ack.duplicate })
    )
  }
  /** A batch's PubAcks are not timed one by one: each subject in it gets one observation, the batch's time. */
  const timedBatch = <A, E>(list: ReadonlyArray<OutgoingMessage>, effect: Effect.Effect<A, E>) =>
    metrics === undefined
      ? effect
      : timedBy(effect, (ms) => {
          // Chained by hand: Effect.forEach goes through Effect.all's machinery, for one subject mostly.
          let recorded: Effect.Effect<void> = Effect.void
          for (const subject of new Set(list.map((m) => m.subject))) recorded = Effect.zipRight(recorded, metrics.recordPublishDuration(subject, ms))
          return recorded
        })
  return { publish, publishAll }
}

/**
 * Replaces the Publisher in context with its traced version; publish durations are recorded when
 * Metrics is provided too. `@conveyor/nats`'s JetStreamPublisherLive is already built with it.
 */
export const layerTracedPublisher: Layer.Layer<Publisher, never, Publisher> = Layer.effect(
  Publisher,
  Effect.gen(function* () {
    const inner = yield* Publisher
    const metrics = yield* Effect.serviceOption(Metrics)
    return tracedPublisher(inner, Option.getOrUndefined(metrics))
  })
)
