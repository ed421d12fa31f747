import { defineHandler, makeRetryPolicy, publishEvent, tapResult } from "@conveyor/messaging"
import { layerTracingFromEnv } from "@conveyor/telemetry"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Deferred, Duration, Effect, Exit, Layer, Schema, Scope } from "effect"
import { otlpReceiver as receiver } from "@conveyor/testing"
import { ensureTopology, JetStreamPublisherLive, makeNatsConfig, NatsConnectionLive, runJetStreamConsumer } from "../src/index.js"


const server = useNatsServer()
const Order = Schema.Struct({ id: Schema.String })
const SPAN_KIND_PRODUCER = 4
const SPAN_KIND_CONSUMER = 5

describe("OTLP export through the runtime", () => {
  it.scopedLive("spans of a publish and its processing leave the process with the service name and parentage", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const env = ConfigProvider.fromMap(
        new Map([
          ["OTEL_SERVICE_NAME", "export-e2e"],
          ["OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url]
        ])
      )
      // Released by hand: releasing the tracing layer is what flushes the batch to the receiver.
      const tracingScope = yield* Scope.make()
      const tracing = yield* Layer.buildWithScope(layerTracingFromEnv({ serviceName: "fallback" }).pipe(Layer.provide(Layer.setConfigProvider(env))), tracingScope)
      const appScope = yield* Scope.make()
      const nats = NatsConnectionLive(makeNatsConfig({ servers: [server.url], name: "export-e2e", connectTimeout: Duration.seconds(5) }))
      const app = yield* Layer.buildWithScope(JetStreamPublisherLive.pipe(Layer.provideMerge(nats)), appScope)
      const ctx = Context.merge(tracing, app)

      const stream = uniqueName("EXP")
      const subject = `${stream.toLowerCase()}.orders`
      const topology = defineTopology({ streams: [{ name: stream, subjects: [subject] }], consumers: [{ stream, durable: "worker", filterSubjects: [subject] }] })
      yield* Effect.provide(ensureTopology(topology), ctx)
      const done = yield* Deferred.make<void>()
      const handler = defineHandler({ schema: Order, handle: () => Effect.void.pipe(Effect.withSpan("reserve stock")), errors: {} })
      yield* Effect.provide(
        runJetStreamConsumer(handler, {
          consumer: topology.consumers[0]!,
          retry: makeRetryPolicy({ maxAttempts: 3 }),
          deadLetters: false,
          middlewares: [tapResult(() => Effect.runSync(Deferred.succeed(done, undefined)))]
        }),
        ctx
      ).pipe(Scope.extend(appScope))
      yield* Effect.provide(publishEvent(Order, subject, { id: "o-1" }, { msgId: "o-1" }), ctx)
      yield* Deferred.await(done).pipe(Effect.timeout("20 seconds"))
      yield* Scope.close(appScope, Exit.void)
      yield* Scope.close(tracingScope, Exit.void)

      expect(otlp.received.length).toBeGreaterThan(0)
      expect(otlp.received.every((r) => r.path === "/v1/traces")).toBe(true)
      const resourceSpans = otlp.received.flatMap((r) => r.resourceSpans)
      for (const rs of resourceSpans) {
        expect(rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue).toBe("export-e2e")
      }
      const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      const byName = (name: string) => {
        const found = spans.filter((s) => s.name === name)
        expect(found, name).toHaveLength(1)
        return found[0]!
      }
      const publish = byName(`publish ${subject}`)
      const processSpan = byName(`process ${subject}`)
      const handlerSpan = byName("reserve stock")
      expect(publish.kind).toBe(SPAN_KIND_PRODUCER)
      expect(processSpan.kind).toBe(SPAN_KIND_CONSUMER)
      expect(processSpan.parentSpanId).toBe(publish.spanId)
      expect(processSpan.links?.map((l) => l.spanId)).toEqual([publish.spanId])
      expect(handlerSpan.parentSpanId).toBe(processSpan.spanId)
      expect(new Set([publish.traceId, processSpan.traceId, handlerSpan.traceId]).size).toBe(1)
    }), 60_000)
})
