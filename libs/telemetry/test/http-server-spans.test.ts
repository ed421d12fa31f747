import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { ConfigProvider, Effect, Layer } from "effect"
import { InMemorySpanExporter, layerMetrics, layerOpsServer, layerReadiness, layerTracingInMemory } from "../src/index.js"

const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("POST", "/orders", HttpServerResponse.json({ accepted: true }, { status: 202, headers: { "x-order": "o-1" } })),
  HttpLayerRouter.route("GET", "/orders/:id", Effect.as(Effect.sleep("10 seconds"), HttpServerResponse.empty())),
  HttpLayerRouter.route("DELETE", "/orders/:id", Effect.dieMessage("broken"))
])

/** The ops server with the routes, spans into `exporter`, and `env` as configuration. */
const serve = (exporter: InMemorySpanExporter, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      layerOpsServer(Routes).pipe(
        Layer.provideMerge(Layer.mergeAll(layerReadiness(), layerMetrics(), layerTracingInMemory(exporter))),
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", ...env })))))
      )
    )
    return yield* Effect.provide(
      HttpServer.addressWith((a) => Effect.succeed(a._tag === "TcpAddress" ? `http://127.0.0.1:${a.port}` : "")),
      context
    )
  })

const request = (url: string, init: RequestInit = {}) => Effect.promise(() => fetch(url, init).then((r) => r.text().then(() => r.status)))

const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

describe("HTTP server spans", () => {
  it.scopedLive("are named `{method} {route}`, continue the caller's trace and record no headers by default", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      const base = yield* serve(exporter)
      const status = yield* request(`${base}/orders`, { method: "POST", headers: { "idempotency-key": "secret-key", traceparent } })
      expect(status).toBe(202)
      const [span] = exporter.getFinishedSpans()
      expect(span?.name).toBe("POST /orders")
      expect(span?.kind).toBe(SpanKind.SERVER)
      expect(span?.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(span?.attributes).toMatchObject({ "http.route": "/orders", "http.request.method": "POST", "http.response.status_code": 202 })
      expect(Object.keys(span!.attributes).filter((k) => k.startsWith("http.request.header.") || k.startsWith("http.response.header."))).toEqual([])
      expect(span?.status.code).not.toBe(SpanStatusCode.ERROR)
    }))

  it.scopedLive("record the headers listed in OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST/_RESPONSE, and only those", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      const base = yield* serve(exporter, {
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST: "X-Request-Id",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE: "x-order"
      })
      yield* request(`${base}/orders`, { method: "POST", headers: { "idempotency-key": "secret-key", "x-request-id": "r-1" } })
      const [span] = exporter.getFinishedSpans()
      const headers = Object.fromEntries(Object.entries(span!.attributes).filter(([k]) => k.includes(".header.")))
      expect(headers).toEqual({ "http.request.header.x-request-id": "r-1", "http.response.header.x-order": "o-1" })
    }))

  it.scopedLive("a request the client gives up on is 499 with error.type and a one-line status; a 5xx is an error with its status", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      const base = yield* serve(exporter)
      const aborted = yield* Effect.promise(() => fetch(`${base}/orders/o-1`, { signal: AbortSignal.timeout(300) }).then(() => "answered", () => "aborted"))
      expect(aborted).toBe("aborted")
      const broken = yield* request(`${base}/orders/o-1`, { method: "DELETE" })
      expect(broken).toBe(500)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 100 && exporter.getFinishedSpans().length < 2; i++) await new Promise((r) => setTimeout(r, 50))
      })
      const cut = exporter.getFinishedSpans().find((s) => s.name === "GET /orders/:id")
      expect(cut?.attributes).toMatchObject({ "http.response.status_code": 499, "error.type": "ClientAbort" })
      expect(cut?.status).toEqual({ code: SpanStatusCode.ERROR, message: "the client closed the connection before the response" })
      const failed = exporter.getFinishedSpans().find((s) => s.name === "DELETE /orders/:id")
      expect(failed?.attributes).toMatchObject({ "http.response.status_code": 500, "error.type": "500" })
      expect(failed?.status.code).toBe(SpanStatusCode.ERROR)
    }))
})
