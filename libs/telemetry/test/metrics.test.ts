import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { layerMetrics, Metrics } from "../src/index.js"

const MetricsTest = layerMetrics().pipe(
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_SERVICE_NAME", "metrics-test"]]))))
)

describe("Metrics", () => {
  it.live("renders counters, histograms and gauges as Prometheus text", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      yield* metrics.messageProcessed("orchestrator", "acked")
      yield* metrics.messageProcessed("orchestrator", "acked")
      yield* metrics.messageProcessed("orchestrator", "retried")
      yield* metrics.messageProcessed("payments", "dead_lettered")
      yield* metrics.messageProcessed("payments", "duplicate")
      yield* metrics.messageProcessed("orchestrator", "acked")
      yield* metrics.recordHandlerDuration("orchestrator", "30 millis")
      yield* metrics.recordHandlerDuration("orchestrator", "2 seconds")
      yield* metrics.recordPublishDuration("orders.placed", "4 millis")
      yield* metrics.recordHandlerDuration("payments", "5 millis")
      yield* metrics.setConsumerState("ORDERS", "orchestrator", { pending: 12, ackPending: 3, redelivered: 1, waiting: 2 })
      yield* metrics.setConsumerState("ORDERS", "orchestrator", { pending: 7, ackPending: 3, redelivered: 0, waiting: 1 })
      yield* metrics.setDeadLetterDepth("DEAD_LETTERS", 4)

      const text = yield* metrics.prometheus
      const lines = text.split("\n")
      const has = (line: string) => expect(lines).toContain(line)
      has("# TYPE conveyor_messages_processed_total counter")
      has('conveyor_messages_processed_total{consumer="orchestrator",outcome="acked"} 3')
      has('conveyor_messages_processed_total{consumer="orchestrator",outcome="retried"} 1')
      has('conveyor_messages_processed_total{consumer="orchestrator",outcome="dead_lettered"} 0')
      has('conveyor_messages_processed_total{consumer="payments",outcome="dead_lettered"} 1')
      has('conveyor_messages_processed_total{consumer="payments",outcome="duplicate"} 1')
      has("# TYPE conveyor_handler_duration_seconds histogram")
      has('conveyor_handler_duration_seconds_count{consumer="orchestrator"} 2')
      has('conveyor_handler_duration_seconds_bucket{consumer="orchestrator",le="0.05"} 1')
      has('conveyor_handler_duration_seconds_bucket{consumer="orchestrator",le="+Inf"} 2')
      has('conveyor_handler_duration_seconds_count{consumer="payments"} 1')
      has('conveyor_publish_duration_seconds_count{subject="orders.placed"} 1')
      has("# TYPE conveyor_consumer_pending gauge")
      has('conveyor_consumer_pending{stream="ORDERS",consumer="orchestrator"} 7')
      has('conveyor_consumer_ack_pending{stream="ORDERS",consumer="orchestrator"} 3')
      has('conveyor_consumer_redelivered{stream="ORDERS",consumer="orchestrator"} 0')
      has('conveyor_consumer_waiting{stream="ORDERS",consumer="orchestrator"} 1')
      has('conveyor_dead_letter_depth{stream="DEAD_LETTERS"} 4')
      expect(text).toContain('service_name="metrics-test"')
    }).pipe(Effect.provide(MetricsTest)))
})
