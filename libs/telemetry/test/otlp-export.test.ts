import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Logger, Scope } from "effect"
import { otlpReceiver as receiver } from "@conveyor/testing"
import { consumerSpan, layerTracingFromEnv, makeJsonLogger, producerSpan } from "../src/index.js"


describe("OTLP/HTTP export", () => {
  it.scopedLive("spans leave the process with the service name and parent/child intact", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const env = ConfigProvider.fromMap(
        new Map([
          ["OTEL_SERVICE_NAME", "otlp-test"],
          ["OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url],
          ["OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,team=orders%20team"]
        ])
      )
      const tracing = layerTracingFromEnv({ serviceName: "fallback" }).pipe(Layer.provide(Layer.setConfigProvider(env)))
      // Build and release the layer by hand: releasing it is what flushes the batch processor.
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(tracing, scope)
      yield* producerSpan("orders.placed")((headers) =>
        consumerSpan({ subject: "orders.placed", headers })(Effect.void.pipe(Effect.withSpan("reserve-stock")))
      ).pipe(Effect.provide(context))
      expect(otlp.received).toHaveLength(0)
      yield* Scope.close(scope, Exit.void)

      expect(otlp.received.length).toBeGreaterThan(0)
      expect(otlp.received[0]?.path).toBe("/v1/traces")
      expect(otlp.received[0]?.contentType).toContain("application/json")
      const resourceSpans = otlp.received.flatMap((r) => r.resourceSpans)
      const attrs = Object.fromEntries(resourceSpans[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]))
      expect(attrs["service.name"]).toBe("otlp-test")
      expect(attrs["deployment.environment"]).toBe("test")
      expect(attrs["team"]).toBe("orders team")
      const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      const byName = (name: string) => spans.find((s) => s.name === name)!
      const producer = byName("publish orders.placed")
      const consumer = byName("process orders.placed")
      const child = byName("reserve-stock")
      expect(consumer.parentSpanId).toBe(producer.spanId)
      expect(child.parentSpanId).toBe(consumer.spanId)
      expect(new Set([producer.traceId, consumer.traceId, child.traceId]).size).toBe(1)
    }))
})

describe("OTel diagnostics", () => {
  it.scopedLive("a collector that cannot be reached is reported in the logs, and shutdown still completes", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const env = ConfigProvider.fromMap(
        new Map([
          ["OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"],
          ["OTEL_EXPORTER_OTLP_TIMEOUT", "300"],
          ["OTEL_BSP_SCHEDULE_DELAY", "20"]
        ])
      )
      const tracing = layerTracingFromEnv().pipe(
        Layer.provide(Logger.replace(Logger.defaultLogger, makeJsonLogger({ serviceName: "diag", write: (l) => lines.push(l) }))),
        Layer.provide(Layer.setConfigProvider(env))
      )
      const logged = () => lines.map((l) => JSON.parse(l) as { message: unknown; annotations?: Record<string, unknown> })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(tracing, scope)
      // Exported by the batch timer: its failure goes through OTel's diag logger.
      yield* Effect.void.pipe(Effect.withSpan("lost-by-timer"), Effect.provide(context))
      yield* Effect.sleep("1 second")
      expect(logged().some((l) => l.annotations?.source === "opentelemetry")).toBe(true)
      // Left for the final flush: its failure is reported by the layer's finalizer.
      yield* Effect.void.pipe(Effect.withSpan("lost-at-shutdown"), Effect.provide(context))
      yield* Scope.close(scope, Exit.void)
      expect(logged().some((l) => String(l.message).includes("flushing spans at shutdown failed"))).toBe(true)
    }))
})
