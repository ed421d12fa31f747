import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, layerTracingInMemory, makeMetrics } from "@conveyor/telemetry"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { Effect } from "effect"
import type { OutgoingMessage } from "../src/outgoing.js"
import { PublishFailed } from "../src/publish-error.js"
import type { Publisher } from "../src/publisher.js"
import { tracedPublisher } from "../src/traced-publisher.js"

const recording = () => {
  const sent: Array<OutgoingMessage> = []
  const publish = (m: OutgoingMessage) => Effect.sync(() => (sent.push(m), { stream: "ORDERS", seq: sent.length, duplicate: false }))
  const inner: Publisher["Type"] = { publish, publishAll: (ms) => Effect.forEach(ms, publish) }
  return { sent, inner }
}

const payload = new TextEncoder().encode("{}")

describe("tracedPublisher", () => {
  it.scopedLive("opens a PRODUCER span per message and puts its context in the headers, replacing stale ones", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function* () {
      const { sent, inner } = recording()
      const metrics = yield* makeMetrics({ serviceName: "pub" })
      const publisher = tracedPublisher(inner, metrics)
      yield* publisher.publishAll([
        { subject: "orders.placed", payload, msgId: "m-1", headers: { "X-Tenant": "acme", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "old=1" } },
        { subject: "orders.paid", payload }
      ])
      const spans = exporter.getFinishedSpans()
      const placed = spans.find((s) => s.name === "publish orders.placed")!
      expect(placed.kind).toBe(SpanKind.PRODUCER)
      expect(placed.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.destination.name": "orders.placed",
        "messaging.message.id": "m-1",
        "messaging.nats.stream": "ORDERS",
        "messaging.nats.message.stream_sequence": 1
      })
      expect(sent[0]!.headers).toEqual({ "X-Tenant": "acme", traceparent: `00-${placed.spanContext().traceId}-${placed.spanContext().spanId}-01` })
      expect(sent[1]!.headers?.["traceparent"]).toContain(spans.find((s) => s.name === "publish orders.paid")!.spanContext().spanId)
      expect(yield* metrics.prometheus).toContain('conveyor_publish_duration_seconds_count{subject="orders.placed"} 1')
      expect(spans.find((s) => s.name === "publish orders.paid")!.attributes["messaging.nats.message.stream_sequence"]).toBe(2)
      // One message on its own: its span is the current one's child.
      yield* publisher.publish({ subject: "orders.shipped", payload }).pipe(Effect.withSpan("request"))
      const shipped = exporter.getFinishedSpans().find((s) => s.name === "publish orders.shipped")!
      expect(shipped.parentSpanContext?.spanId).toBe(exporter.getFinishedSpans().find((s) => s.name === "request")!.spanContext().spanId)
      expect(sent[2]!.headers?.["traceparent"]).toContain(shipped.spanContext().spanId)
    }).pipe(Effect.provide(layerTracingInMemory(exporter)))
  })

  it.scopedLive("a batch that fails fails every message's span, and the error reaches the caller", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function* () {
      const failing: Publisher["Type"] = {
        publish: () => Effect.die("not used"),
        publishAll: () => Effect.fail(new PublishFailed({ subject: "orders.placed", reason: "timeout", retryable: true }))
      }
      const result = yield* Effect.either(tracedPublisher(failing).publishAll([{ subject: "orders.placed", payload }, { subject: "orders.placed", payload }]))
      expect(result._tag).toBe("Left")
      const spans = exporter.getFinishedSpans().filter((s) => s.name === "publish orders.placed")
      expect(spans).toHaveLength(2)
      expect(spans.every((s) => s.status.code === SpanStatusCode.ERROR)).toBe(true)
    }).pipe(Effect.provide(layerTracingInMemory(exporter)))
  })

  it.scopedLive("records the time to the PubAck whatever the outcome: once per publish, once per subject of a batch", () =>
    Effect.gen(function* () {
      const metrics = yield* makeMetrics({ serviceName: "pub" })
      const failing: Publisher["Type"] = {
        publish: () => Effect.fail(new PublishFailed({ subject: "orders.paid", reason: "timeout", retryable: true })),
        publishAll: () => Effect.fail(new PublishFailed({ subject: "orders.placed", reason: "timeout", retryable: true }))
      }
      const { inner } = recording()
      yield* tracedPublisher(inner, metrics).publish({ subject: "orders.shipped", payload })
      expect((yield* Effect.either(tracedPublisher(failing, metrics).publish({ subject: "orders.paid", payload })))._tag).toBe("Left")
      const batch = [{ subject: "orders.placed", payload }, { subject: "orders.placed", payload }, { subject: "orders.paid", payload }]
      expect((yield* Effect.either(tracedPublisher(failing, metrics).publishAll(batch)))._tag).toBe("Left")
      const text = yield* metrics.prometheus
      expect(text).toContain('conveyor_publish_duration_seconds_count{subject="orders.shipped"} 1')
      expect(text).toContain('conveyor_publish_duration_seconds_count{subject="orders.placed"} 1')
      expect(text).toContain('conveyor_publish_duration_seconds_count{subject="orders.paid"} 2')
    }))
})
