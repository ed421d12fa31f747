import { describe, expect, it } from "@effect/vitest"
import { makeMetrics } from "@conveyor/telemetry"
import { Effect, Schema, Stream } from "effect"
import type { Delivery } from "../src/delivery.js"
import { defineHandler } from "../src/handler.js"
import { makeRetryPolicy } from "../src/retry-policy.js"
import { startConsumer } from "../src/runner.js"
import { metrics as countAndTime } from "../src/middleware/metrics.js"

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", {}) {}

const delivery = (id: string, fail: boolean, deliveryCount: number): Delivery => ({
  subject: "orders.placed",
  payload: new TextEncoder().encode(JSON.stringify({ fail })),
  headers: {},
  messageId: id,
  stream: "ORDERS",
  consumer: "worker",
  streamSequence: 1,
  deliveryCount,
  publishedAt: new Date(0),
  ack: Effect.void,
  nak: () => Effect.void,
  term: () => Effect.void,
  working: Effect.void
})

const handler = defineHandler({
  schema: Schema.Struct({ fail: Schema.Boolean }),
  handle: ({ fail }) => (fail ? Effect.fail(new Flaky()) : Effect.void),
  errors: { Flaky: "retry" }
})

describe("metrics middleware", () => {
  it.scopedLive("counts deliveries by settlement and times every handling", () =>
    Effect.gen(function* () {
      const metrics = yield* makeMetrics({ serviceName: "metrics-mw" })
      const running = yield* startConsumer(
        () => Stream.fromIterable([delivery("a", false, 1), delivery("b", true, 1), delivery("b", true, 2), delivery("c", true, 5)]),
        handler,
        {
          name: "ORDERS/worker",
          concurrency: 2,
          retry: makeRetryPolicy({ maxAttempts: 2, initialDelayMs: 10 }),
          shutdownGraceMs: 1_000,
          middlewares: [countAndTime(metrics, "worker")]
        }
      )
      yield* running.done
      const text = yield* metrics.prometheus
      expect(text).toContain('conveyor_messages_processed_total{consumer="worker",outcome="acked"} 1')
      expect(text).toContain('conveyor_messages_processed_total{consumer="worker",outcome="retried"} 1')
      // The second failure ran out of attempts; "c" came past them and never reached the handler.
      expect(text).toContain('conveyor_messages_processed_total{consumer="worker",outcome="dead_lettered"} 2')
      expect(text).toContain('conveyor_messages_processed_total{consumer="worker",outcome="duplicate"} 0')
      // Every delivery's handling is timed, the one past its attempts too.
      expect(text).toContain('conveyor_handler_duration_seconds_count{consumer="worker"} 4')
    }))
})
