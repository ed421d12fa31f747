import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, layerTracingInMemory } from "@conveyor/telemetry"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { Effect, Schema, Stream } from "effect"
import type { DeadLetterSink } from "../src/dead-letter.js"
import type { Delivery } from "../src/delivery.js"
import { defineHandler } from "../src/handler.js"
import { makeRetryPolicy } from "../src/retry-policy.js"
import { startConsumer } from "../src/runner.js"
import { makeMemoryIdempotencyStore } from "../src/idempotency.js"
import type { IdempotencyOptions } from "../src/internal/stages/idempotency.js"
import { tracing } from "../src/middleware/tracing.js"

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", {}) {}
class Broken extends Schema.TaggedError<Broken>()("Broken", {}) {}

const Order = Schema.Struct({ id: Schema.String, fail: Schema.optional(Schema.Literal("retry", "dead-letter")) })

const delivery = (id: string, payload: object, overrides: Partial<Delivery> = {}): Delivery => ({
  subject: "orders.placed",
  payload: new TextEncoder().encode(JSON.stringify(payload)),
  headers: {},
  messageId: id,
  stream: "ORDERS",
  consumer: "worker",
  streamSequence: 7,
  deliveryCount: 1,
  publishedAt: new Date(0),
  ack: Effect.void,
  nak: () => Effect.void,
  term: () => Effect.void,
  working: Effect.void,
  ...overrides
})

const handler = defineHandler({
  schema: Order,
  handle: (order): Effect.Effect<void, Flaky | Broken> =>
    order.fail === "retry" ? Effect.fail(new Flaky()) : order.fail === "dead-letter" ? Effect.fail(new Broken()) : Effect.void.pipe(Effect.withSpan("handle")),
  errors: { Flaky: "retry", Broken: "dead-letter" }
})

const sink: DeadLetterSink["Type"] = { send: () => Effect.void }

const run = (deliveries: ReadonlyArray<Delivery>, idempotency?: IdempotencyOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const running = yield* startConsumer(() => Stream.fromIterable(deliveries), handler, {
        name: "ORDERS/worker",
        concurrency: 1,
        retry: makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100, jitter: 0 }),
        deadLetters: sink,
        shutdownGraceMs: 1_000,
        ...(idempotency === undefined ? {} : { idempotency }),
        middlewares: [yield* tracing]
      })
      yield* running.done
    })
  )

const withExporter = <A, E>(f: (exporter: InMemorySpanExporter) => Effect.Effect<A, E>) => {
  const exporter = new InMemorySpanExporter()
  return Effect.provide(f(exporter), layerTracingInMemory(exporter))
}

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

describe("tracing middleware", () => {
  it.live("covers a quick handler's function with the span, not only the Effect it returns", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const busy = defineHandler({
          schema: Order,
          handle: () => {
            const until = performance.now() + 30
            while (performance.now() < until) {
              // computing synchronously, then returning a completed Effect
            }
            return Effect.void
          },
          errors: {}
        })
        yield* Effect.scoped(
          Effect.flatMap(
            Effect.flatMap(tracing, (traced) =>
              startConsumer(() => Stream.make(delivery("m-busy", { id: "1" })), busy, {
                name: "ORDERS/worker",
                concurrency: 1,
                retry: makeRetryPolicy({ maxAttempts: 3 }),
                shutdownGraceMs: 1_000,
                middlewares: [traced]
              })
            ),
            (running) => running.done
          )
        )
        const span = exporter.getFinishedSpans().find((s) => s.name === "process orders.placed")!
        const [seconds, nanos] = span.duration
        expect(seconds * 1_000 + nanos / 1e6).toBeGreaterThanOrEqual(29)
        expect(span.attributes["conveyor.settlement"]).toBe("acked")
      })
    ))

  it.live("opens a CONSUMER span per delivery, child of the producer, with the handler's spans inside", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        yield* run([delivery("m-1", { id: "1" }, { headers: { traceparent: parent } })])
        const spans = exporter.getFinishedSpans()
        const processSpan = spans.find((s) => s.name === "process orders.placed")!
        expect(processSpan.kind).toBe(SpanKind.CONSUMER)
        expect(processSpan.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736")
        expect(processSpan.parentSpanContext?.spanId).toBe("00f067aa0ba902b7")
        expect(processSpan.links.map((l) => l.context.spanId)).toEqual(["00f067aa0ba902b7"])
        expect(processSpan.attributes).toMatchObject({
          "messaging.system": "nats",
          "messaging.destination.name": "orders.placed",
          "messaging.message.id": "m-1",
          "messaging.consumer.group.name": "worker",
          "messaging.nats.message.delivery_count": 1,
          "messaging.nats.message.stream_sequence": 7,
          "conveyor.settlement": "acked"
        })
        expect(processSpan.status.code).not.toBe(SpanStatusCode.ERROR)
        expect(spans.find((s) => s.name === "handle")!.parentSpanContext?.spanId).toBe(processSpan.spanContext().spanId)
      })
    ))

  it.live("a retried delivery has a retry event and ERROR status; a dead-lettered one a dead_lettered event", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        yield* run([
          delivery("m-r", { id: "r", fail: "retry" }, { deliveryCount: 1 }),
          delivery("m-d", { id: "d", fail: "dead-letter" }, { deliveryCount: 2 })
        ])
        const spans = exporter.getFinishedSpans().filter((s) => s.name === "process orders.placed")
        const retried = spans.find((s) => s.attributes["messaging.message.id"] === "m-r")!
        expect(retried.status.code).toBe(SpanStatusCode.ERROR)
        expect(retried.attributes["conveyor.settlement"]).toBe("retried")
        expect(retried.events.map((e) => e.name)).toContain("retry_scheduled")
        expect(retried.events.find((e) => e.name === "retry_scheduled")!.attributes).toMatchObject({ "exception.type": "Flaky", "conveyor.retry.delay_ms": 100 })
        const dead = spans.find((s) => s.attributes["messaging.message.id"] === "m-d")!
        expect(dead.status.code).toBe(SpanStatusCode.ERROR)
        expect(dead.attributes["error.type"]).toBe("Broken")
        expect(dead.events.map((e) => e.name)).toContain("dead_lettered")
        expect(dead.events.find((e) => e.name === "dead_lettered")!.attributes).toMatchObject({ "exception.type": "Broken", "conveyor.dead_letter.reason": "permanent", "messaging.nats.message.delivery_count": 2 })
        // The recorded exception's stack is the handler's error's, not one made by the tracing middleware.
        const stack = String(dead.events.find((e) => e.name === "exception")?.attributes?.["exception.stacktrace"])
        expect(stack).toContain("tracing.test.ts")
        expect(stack).not.toMatch(/at asError/)
      })
    ))

  it.live("garbage trace headers start a new trace and the message is still acked", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        let acked = 0
        yield* run([delivery("m-g", { id: "g" }, { headers: { traceparent: "garbage", tracestate: "%%%" }, ack: Effect.sync(() => void acked++) })])
        const span = exporter.getFinishedSpans().find((s) => s.name === "process orders.placed")!
        expect(acked).toBe(1)
        expect(span.parentSpanContext).toBeUndefined()
        expect(span.links).toHaveLength(0)
        expect(span.attributes["conveyor.settlement"]).toBe("acked")
      })
    ))

  it.live("a duplicate (done before under its message id) is acked with conveyor.duplicate on its span", () =>
    withExporter((exporter) =>
      Effect.gen(function* () {
        const dedupe = { store: makeMemoryIdempotencyStore(), leaseMs: 1_000, unavailableDelayMs: 100, keyPrefix: "worker." }
        yield* run([delivery("m-dup", { id: "1" }, { streamSequence: 1 }), delivery("m-dup", { id: "1" }, { streamSequence: 2 })], dedupe)
        const spans = exporter.getFinishedSpans().filter((s) => s.name === "process orders.placed")
        expect(spans.map((s) => s.attributes["conveyor.settlement"])).toEqual(["acked", "duplicate"])
        expect(spans[1]!.attributes["conveyor.duplicate"]).toBe(true)
        expect(spans[1]!.status.code).not.toBe(SpanStatusCode.ERROR)
      })
    ))
})
