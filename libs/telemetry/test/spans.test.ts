import { describe, expect, it } from "@effect/vitest"
import { context as otelContext, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Data, Effect, Option } from "effect"
import { consumerSpan, consumerSpans, continueTrace, extractTraceContext, InMemorySpanExporter, injectTraceHeaders, layerTracingInMemory, ORIGINAL_TRACEPARENT_HEADER, preserveOriginalTraceparent, producerSpan, annotatePublishAck, recordDeadLetter, recordRetry } from "../src/index.js"
import { isTracing, extractBaggage, withBaggage } from "../src/propagation.js"

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly orderId: string }> {}

const withExporter = <A, E>(f: (exporter: InMemorySpanExporter) => Effect.Effect<A, E>, options?: { readonly otelContext?: boolean }) => {
  const exporter = new InMemorySpanExporter()
  return Effect.provide(f(exporter), layerTracingInMemory(exporter, { serviceName: "spans-test", ...options }))
}

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name)
  if (span === undefined) throw new Error(`no span ${name} in ${spans.map((s) => s.name).join(", ")}`)
  return span
}

describe("propagation", () => {
  it.live("inject then extract keeps the trace id and the span id", () =>
    withExporter(() =>
      Effect.gen(function* () {
        const span = yield* Effect.currentSpan
        const headers = yield* injectTraceHeaders({ "Nats-Msg-Id": "m-1" })
        expect(headers["Nats-Msg-Id"]).toBe("m-1")
        expect(headers.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`)
        const remote = extractTraceContext(headers)
        expect(Option.map(remote, (r) => [r.traceId, r.spanId])).toEqual(Option.some([span.traceId, span.spanId]))
      }).pipe(Effect.withSpan("outer"))
    ))

  it("garbage or missing traceparent gives none, without throwing", () => {
    for (const headers of [undefined, {}, { traceparent: "garbage" }, { traceparent: "00-zz-zz-01" }, { traceparent: "00-00000000000000000000000000000000-0000000000000000-01" }]) {
      expect(Option.isNone(extractTraceContext(headers))).toBe(true)
    }
    expect(extractBaggage({ baggage: "%%%,=,;;" })).toEqual({})
  })

  it.live("tracestate and baggage travel; header names match case-insensitively", () =>
    withExporter(() =>
      Effect.gen(function* () {
        const incoming = {
          TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          TraceState: "vendor=abc",
          Baggage: "tenant=acme"
        }
        const out = yield* consumerSpan({ subject: "orders.placed", headers: incoming })(injectTraceHeaders())
        expect(out.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
        expect(out.tracestate).toBe("vendor=abc")
        expect(extractBaggage(out)).toEqual({ tenant: "acme" })
        const more = yield* withBaggage({ step: "2" })(injectTraceHeaders())
        expect(extractBaggage(more)).toEqual({ step: "2" })
      })
    ))

  it.live("a message with a broken traceparent starts a new trace, not a child of the caller", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const poll = yield* Effect.currentSpan
        yield* consumerSpan({ subject: "orders.placed", headers: { traceparent: "nonsense" } })(Effect.void)
        const span = byName(exporter.getFinishedSpans(), "process orders.placed")
        expect(span.spanContext().traceId).not.toBe(poll.traceId)
        expect(span.parentSpanContext).toBeUndefined()
        expect(span.links).toHaveLength(0)
      }).pipe(Effect.withSpan("poll-loop"))
    ))
})

describe("producerSpan and consumerSpan", () => {
  it.live("the consumer span is a child of, and links to, the producer span (and, with otelContext, OTel API spans nest under it)", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const headers = yield* producerSpan("orders.placed", { messageId: "order-1:placed" })((h) =>
          Effect.as(annotatePublishAck({ stream: "ORDERS", sequence: 41 }), h)
        )
        yield* consumerSpan({
          subject: "orders.placed",
          headers,
          attributes: { messageId: "order-1:placed", consumerGroup: "orchestrator", deliveryCount: 2, streamSequence: 42 }
        })(
          Effect.gen(function* () {
            yield* Effect.void.pipe(Effect.withSpan("reserve-stock"))
            // A span made through the plain OTel API lands in the same tree.
            trace.getTracer("raw").startSpan("raw-otel", {}, otelContext.active()).end()
          })
        )
        const spans = exporter.getFinishedSpans()
        const producer = byName(spans, "publish orders.placed")
        const consumer = byName(spans, "process orders.placed")
        const child = byName(spans, "reserve-stock")
        const raw = byName(spans, "raw-otel")
        expect(producer.kind).toBe(SpanKind.PRODUCER)
        expect(consumer.kind).toBe(SpanKind.CONSUMER)
        expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId)
        expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId)
        expect(consumer.links.map((l) => l.context.spanId)).toEqual([producer.spanContext().spanId])
        expect(child.parentSpanContext?.spanId).toBe(consumer.spanContext().spanId)
        expect(raw.parentSpanContext?.spanId).toBe(consumer.spanContext().spanId)
        expect(raw.spanContext().traceId).toBe(producer.spanContext().traceId)
        expect(producer.attributes).toMatchObject({
          "messaging.system": "nats",
          "messaging.operation.type": "send",
          "messaging.operation.name": "publish",
          "messaging.destination.name": "orders.placed",
          "messaging.message.id": "order-1:placed",
          "messaging.nats.stream": "ORDERS",
          "messaging.nats.message.stream_sequence": 41,
          "messaging.nats.duplicate": false
        })
        expect(consumer.attributes).toMatchObject({
          "messaging.system": "nats",
          "messaging.operation.type": "process",
          "messaging.destination.name": "orders.placed",
          "messaging.consumer.group.name": "orchestrator",
          "messaging.nats.message.delivery_count": 2,
          "messaging.nats.message.stream_sequence": 42
        })
        expect(consumer.status.code).toBe(SpanStatusCode.OK)
        expect(consumer.resource.attributes["service.name"]).toBe("spans-test")
      })
    , { otelContext: true }))

  it.live("without otelContext (the default) a span made through the plain OTel API does not see Effect's span", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        yield* Effect.sync(() => trace.getTracer("raw").startSpan("raw-otel", {}, otelContext.active()).end()).pipe(Effect.withSpan("effect-span"))
        const raw = byName(exporter.getFinishedSpans(), "raw-otel")
        expect(raw.parentSpanContext).toBeUndefined()
      })
    ))

  it.live("a failing handler sets status ERROR; a dead letter is an event and fails the span", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const headers = yield* producerSpan("payments.capture")((h) => Effect.succeed(h))
        const failed = yield* consumerSpan({ subject: "payments.capture", headers })(
          Effect.fail(new PaymentDeclined({ orderId: "o-1" }))
        ).pipe(Effect.flip)
        expect(failed._tag).toBe("PaymentDeclined")
        // The runtime catches the error, dead-letters the message and acks: the effect succeeds.
        yield* consumerSpan({ subject: "payments.dead", headers })(recordDeadLetter(new PaymentDeclined({ orderId: "o-2" }), { deliveryCount: 5, reason: "permanent" }))
        yield* consumerSpan({ subject: "payments.retry", headers })(recordRetry(new Error("gateway timeout"), { delayMillis: 2000, deliveryCount: 1 }))
        const spans = exporter.getFinishedSpans()
        const retried = byName(spans, "process payments.retry")
        expect(retried.status.code).toBe(SpanStatusCode.ERROR)
        expect(retried.events.find((e) => e.name === "retry_scheduled")?.attributes).toMatchObject({
          "exception.message": "gateway timeout",
          "conveyor.retry.delay_ms": 2000
        })
        const first = byName(spans, "process payments.capture")
        expect(first.status.code).toBe(SpanStatusCode.ERROR)
        const dead = byName(spans, "process payments.dead")
        expect(dead.status.code).toBe(SpanStatusCode.ERROR)
        expect(dead.attributes["error.type"]).toBe("PaymentDeclined")
        const event = dead.events.find((e) => e.name === "dead_lettered")
        expect(event?.attributes).toMatchObject({
          "exception.type": "PaymentDeclined",
          "messaging.nats.message.delivery_count": 5,
          "conveyor.dead_letter.reason": "permanent"
        })
      })
    ))

  it.live("a replayed message starts a new trace linked to the original", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const original = yield* producerSpan("orders.placed")((h) => Effect.succeed(h))
        const replayHeaders = yield* producerSpan("orders.placed")((h) => Effect.succeed({ ...preserveOriginalTraceparent(original), ...h }))
        expect(replayHeaders[ORIGINAL_TRACEPARENT_HEADER]).toBe(original.traceparent)
        yield* consumerSpan({ subject: "orders.placed", headers: replayHeaders })(Effect.void)
        const consumer = byName(exporter.getFinishedSpans(), "process orders.placed")
        const originalTrace = Option.getOrThrow(extractTraceContext(original))
        expect(consumer.links.map((l) => l.context.traceId)).toContain(originalTrace.traceId)
        expect(consumer.links.find((l) => l.context.traceId === originalTrace.traceId)?.attributes).toEqual({ "conveyor.link": "original" })
      })
    ))
})

describe("without a tracer installed", () => {
  const incoming = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", baggage: "tenant=acme" }

  it.live("isTracing tells Effect's built-in tracer from an installed one", () =>
    Effect.gen(function* () {
      expect(yield* isTracing).toBe(false)
      expect(yield* withExporter(() => isTracing)).toBe(true)
    }))

  it.live("consumerSpan makes no span and passes the incoming context and baggage on unchanged", () =>
    Effect.gen(function* () {
      const seen = yield* consumerSpan({ subject: "orders.placed", headers: incoming })(
        Effect.all({ current: Effect.currentParentSpan, headers: injectTraceHeaders() })
      )
      expect(seen.current._tag).toBe("ExternalSpan")
      expect(seen.headers.traceparent).toBe(incoming.traceparent)
      expect(seen.headers.baggage).toBe("tenant=acme")
    }))

  it.live("consumerSpan without context in the headers runs the effect with no current span", () =>
    Effect.gen(function* () {
      const current = yield* consumerSpan({ subject: "orders.placed", headers: { "Nats-Msg-Id": "m-1" } })(Effect.option(Effect.currentParentSpan))
      expect(Option.isNone(current)).toBe(true)
    }))

  it.live("producerSpan hands publish the current context, no span of its own", () =>
    Effect.gen(function* () {
      const headers = yield* continueTrace(incoming)(producerSpan("orders.paid")((h) => Effect.succeed(h)))
      expect(headers.traceparent).toBe(incoming.traceparent)
      const none = yield* producerSpan("orders.paid")((h) => Effect.succeed(h))
      expect(none.traceparent).toBeUndefined()
    }))
})

describe("consumerSpan honours Effect's span settings", () => {
  it.live("annotateSpans and linkSpans reach the consumer span; withTracerEnabled(false) makes none", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const other = yield* Effect.makeSpan("elsewhere")
        yield* consumerSpan({ subject: "orders.placed" })(Effect.void).pipe(Effect.annotateSpans("tenant", "acme"), Effect.linkSpans(other))
        yield* consumerSpan({ subject: "orders.hidden" })(Effect.void).pipe(Effect.withTracerEnabled(false))
        const spans = exporter.getFinishedSpans()
        const consumer = byName(spans, "process orders.placed")
        expect(consumer.attributes).toMatchObject({ tenant: "acme", "messaging.destination.name": "orders.placed" })
        expect(consumer.links.map((l) => l.context.spanId)).toContain(other.spanId)
        expect(spans.some((s) => s.name === "process orders.hidden")).toBe(false)
      })
    ))
})

describe("consumerSpans", () => {
  it.live("opens the span before the process is called, keeps it current while it runs, ends it with the value's attributes; none without a tracer", () =>
    Effect.gen(function* () {
      const traced = yield* withExporter((exporter) =>
        Effect.gen(function* () {
          const spans = Option.getOrThrow(yield* consumerSpans)
          let calledWithin: string | undefined
          const quick = yield* spans(
            { subject: "orders.quick" },
            () => Effect.map(Effect.currentSpan, (span) => ((calledWithin = span.spanId), 1)),
            (n) => ({ "test.value": n })
          )
          const slow = yield* spans({ subject: "orders.slow" }, () => Effect.zipRight(Effect.sleep("1 millis"), Effect.currentSpan))
          return { quick, calledWithin, slow, finished: exporter.getFinishedSpans() }
        })
      )
      expect(traced.quick).toBe(1)
      expect(byName(traced.finished, "process orders.quick").attributes["test.value"]).toBe(1)
      expect(byName(traced.finished, "process orders.quick").spanContext().spanId).toBe(traced.calledWithin)
      expect(byName(traced.finished, "process orders.slow").spanContext().spanId).toBe(traced.slow.spanId)
      expect(Option.isNone(yield* consumerSpans)).toBe(true)
    }))
})
