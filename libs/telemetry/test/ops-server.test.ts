import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, LogLevel } from "effect"
import { layerMetrics, layerOpsServer, makeJsonLogger, layerReadiness, Metrics, NotReady, readinessFlag, registerCheck } from "../src/index.js"

const env = ConfigProvider.fromMap(
  new Map([
    ["HTTP_HOST", "127.0.0.1"],
    ["HTTP_PORT", "0"],
    ["OTEL_SERVICE_NAME", "ops-test"]
  ])
)

const ExtraRoutes = HttpLayerRouter.add("POST", "/orders", HttpServerResponse.json({ accepted: true }, { status: 202 }))

const OpsTest = layerOpsServer(ExtraRoutes).pipe(
  Layer.provideMerge(Layer.mergeAll(layerReadiness({ checkTimeout: "200 millis" }), layerMetrics())),
  Layer.provide(Layer.setConfigProvider(env))
)

const baseUrl = HttpServer.addressWith((address) =>
  Effect.sync(() => {
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    expect(address.hostname).toBe("127.0.0.1")
    return `http://127.0.0.1:${address.port}`
  })
)

const get = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(url)
    return { status: res.status, type: res.headers.get("content-type"), body: await res.text() }
  })

describe("ops server", () => {
  it.scopedLive("healthz is independent of readiness; readyz follows the checks", () =>
    Effect.gen(function* () {
      const base = yield* baseUrl
      expect((yield* get(`${base}/readyz`)).status).toBe(200)

      const nats = yield* readinessFlag("nats-connected")
      let topologyEnsured = false
      yield* registerCheck("topology-ensured", Effect.sync(() => topologyEnsured))
      yield* registerCheck("consumers-running", Effect.fail(new NotReady({ reason: "runner stopped" })))
      yield* registerCheck("slow", Effect.never)

      expect((yield* get(`${base}/healthz`)).status).toBe(200)
      const down = yield* get(`${base}/readyz`)
      expect(down.status).toBe(503)
      const body = JSON.parse(down.body)
      expect(body.status).toBe("not ready")
      expect(body.failing.sort()).toEqual(["consumers-running", "nats-connected", "slow", "topology-ensured"])
      expect(body.checks).toContainEqual({ name: "consumers-running", ok: false, error: "runner stopped" })

      yield* nats.set(true)
      topologyEnsured = true
      const partly = JSON.parse((yield* get(`${base}/readyz`)).body)
      expect(partly.failing.sort()).toEqual(["consumers-running", "slow"])
      expect((yield* get(`${base}/healthz`)).status).toBe(200)
    }).pipe(Effect.provide(OpsTest)))

  it.scopedLive("checks go away with the scope that registered them", () =>
    Effect.gen(function* () {
      const base = yield* baseUrl
      yield* Effect.scoped(registerCheck("temporary", Effect.succeed(false)).pipe(Effect.zipRight(get(`${base}/readyz`)), Effect.tap((r) => expect(r.status).toBe(503))))
      expect((yield* get(`${base}/readyz`)).status).toBe(200)
    }).pipe(Effect.provide(OpsTest)))

  it.scopedLive("serves /metrics as Prometheus text and the app's own routes on the same port", () =>
    Effect.gen(function* () {
      const base = yield* baseUrl
      const metrics = yield* Metrics
      yield* metrics.messageProcessed("notifier", "acked")
      yield* metrics.setDeadLetterDepth("DLQ", 2)
      const res = yield* get(`${base}/metrics`)
      expect(res.status).toBe(200)
      expect(res.type).toContain("text/plain; version=0.0.4")
      expect(res.body).toContain('conveyor_messages_processed_total{consumer="notifier",outcome="acked"} 1')
      expect(res.body).toContain('conveyor_dead_letter_depth{stream="DLQ"} 2')
      const posted = yield* Effect.promise(() => fetch(`${base}/orders`, { method: "POST" }))
      expect(posted.status).toBe(202)
      expect((yield* get(`${base}/nope`)).status).toBe(404)
    }).pipe(Effect.provide(OpsTest)))

  it.live("logs a failing request at error with its cause, and the rest at debug", () =>
    Effect.gen(function* () {
      const lines: Array<{ level: string; message: string }> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        makeJsonLogger({ serviceName: "ops-test", write: (l) => void lines.push(JSON.parse(l) as { level: string; message: string }) })
      )
      const Boom = HttpLayerRouter.add("GET", "/boom", Effect.die(new Error("kaboom")))
      yield* Effect.gen(function* () {
        const base = yield* baseUrl
        expect((yield* get(`${base}/boom`)).status).toBe(500)
        expect((yield* get(`${base}/nope`)).status).toBe(404)
      }).pipe(
        Effect.provide(
          layerOpsServer(Boom).pipe(
            Layer.provideMerge(Layer.mergeAll(layerReadiness(), layerMetrics())),
            Layer.provide(Layer.setConfigProvider(env)),
            Layer.provide(Logger.minimumLogLevel(LogLevel.Debug)),
            Layer.provide(capture)
          )
        ),
        Effect.scoped
      )
      const requests = lines.filter((l) => / \/(boom|nope) /.test(l.message))
      expect(requests).toEqual([
        expect.objectContaining({ level: "error", message: expect.stringMatching(/^GET \/boom 500: .*kaboom/) }),
        expect.objectContaining({ level: "debug", message: "GET /nope 404" })
      ])
    }))
})

