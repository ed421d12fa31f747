import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Scope } from "effect"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { consumerSpan, layerTracingFromEnv, producerSpan } from "../src/index.js"

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
}
interface OtlpExport {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ key: string; value: { stringValue?: string } }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

type Received = OtlpExport & { readonly path: string; readonly contentType: string }

/** A minimal OTLP/HTTP receiver: the JSON encoding, as exporter-trace-otlp-http sends it. */
const receiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly received: Array<Received>; readonly server: Server }>((resume) => {
    const received: Array<Received> = []
    const server = createServer((req, res) => {
      void readBody(req).then((body) => {
        received.push({ ...(JSON.parse(body) as OtlpExport), path: req.url ?? "", contentType: req.headers["content-type"] ?? "" })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, server }))
    })
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

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
