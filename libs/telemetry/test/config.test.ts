import { describe, expect, it } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import { ConfigProvider, Context, Effect, Either, Layer, Logger, Option } from "effect"
import { layerTelemetryWithOpsServer, makeJsonLogger, TelemetryConfig, TelemetryLive } from "../src/index.js"
import { OpsServerConfig } from "../src/ops-server.js"
import { parseResourceAttributes } from "../src/config.js"

const load = <A>(config: Effect.Effect<A, unknown>, env: Record<string, string>) =>
  config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.either)

describe("TelemetryConfig", () => {
  it.effect("defaults: no endpoint, parent-based always-on sampling, enabled", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* load(TelemetryConfig, {}))
      expect(config).toMatchObject({
        disabled: false,
        sampler: "parentbased_always_on",
        samplerRatio: 1,
        exportTimeoutMillis: 10_000,
        batch: { scheduledDelayMillis: 5_000, maxQueueSize: 2_048, maxExportBatchSize: 512 }
      })
      expect(Option.isNone(config.tracesEndpoint)).toBe(true)
      expect(Option.isNone(config.serviceName)).toBe(true)
    }))

  it.effect("the traces endpoint wins over the generic one, which gets /v1/traces", () =>
    Effect.gen(function* () {
      const generic = Either.getOrThrow(yield* load(TelemetryConfig, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318/" }))
      expect(generic.tracesEndpoint).toEqual(Option.some("http://jaeger:4318/v1/traces"))
      const specific = Either.getOrThrow(
        yield* load(TelemetryConfig, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/custom" })
      )
      expect(specific.tracesEndpoint).toEqual(Option.some("http://collector:4318/custom"))
    }))

  it.effect("rejects bad values with a message naming the variable", () =>
    Effect.gen(function* () {
      for (const [env, needle] of [
        [{ OTEL_TRACES_SAMPLER: "sometimes" }, "OTEL_TRACES_SAMPLER must be one of"],
        [{ OTEL_TRACES_SAMPLER_ARG: "1.5" }, "OTEL_TRACES_SAMPLER_ARG"],
        [{ OTEL_EXPORTER_OTLP_ENDPOINT: "jaeger:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT must be an absolute http(s) URL"],
        [{ OTEL_SDK_DISABLED: "maybe" }, "OTEL_SDK_DISABLED"],
        [{ OTEL_RESOURCE_ATTRIBUTES: "novalue" }, "OTEL_RESOURCE_ATTRIBUTES"],
        [{ OTEL_BSP_SCHEDULE_DELAY: "0" }, "OTEL_BSP_SCHEDULE_DELAY must be a positive integer"],
        [{ OTEL_EXPORTER_OTLP_TIMEOUT: "-1" }, "OTEL_EXPORTER_OTLP_TIMEOUT must be a positive integer"]
      ] as const) {
        const result = yield* load(TelemetryConfig, env)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) expect(String(result.left)).toContain(needle)
      }
      const port = yield* load(OpsServerConfig, { HTTP_PORT: "70000" })
      expect(Either.isLeft(port) && String(port.left)).toMatch(/HTTP_PORT.*must be a TCP port/)
      expect(Either.getOrThrow(yield* load(OpsServerConfig, { PORT: "9090" }))).toEqual({ host: "0.0.0.0", port: 9090 })
      expect(Either.getOrThrow(yield* load(OpsServerConfig, {}))).toEqual({ host: "0.0.0.0", port: 8080 })
    }))

  it("parses OTEL_RESOURCE_ATTRIBUTES with percent-decoding", () => {
    expect(parseResourceAttributes("a=1, b = x%2Cy ,,service.name=svc")).toEqual(Either.right({ a: "1", b: "x,y", "service.name": "svc" }))
  })
})

describe("TelemetryLive", () => {
  it.live("without an endpoint spans still get trace ids, and the logger prints them", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const span = yield* Effect.gen(function* () {
        yield* Effect.log("inside")
        return yield* Effect.currentSpan
      }).pipe(
        Effect.withSpan("work"),
        // A second, capturing copy of the JSON logger next to the one TelemetryLive installs on stdout.
        Effect.provide(Logger.add(makeJsonLogger({ serviceName: "x", write: (l) => lines.push(l) })))
      )
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(JSON.parse(lines[0]!).trace_id).toBe(span.traceId)
    }).pipe(Effect.provide(TelemetryLive), Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_SERVICE_NAME", "live"]])))))

  it.live("OTEL_SDK_DISABLED leaves Effect's own tracer, which still gives W3C-shaped ids", () =>
    Effect.gen(function* () {
      const span = yield* Effect.currentSpan.pipe(Effect.withSpan("work"))
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
    }).pipe(Effect.provide(TelemetryLive), Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_SDK_DISABLED", "true"]])))))

  it.scopedLive("composes with the ops server", () =>
    Effect.gen(function* () {
      const server = yield* Layer.build(layerTelemetryWithOpsServer({ serviceName: "fallback" }))
      const address = Context.get(server, HttpServer.HttpServer).address
      const port = address._tag === "TcpAddress" ? address.port : 0
      const res = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`))
      expect(res.status).toBe(200)
      expect(yield* Effect.promise(() => res.text())).toContain('service_name="ops"')
    }).pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["HTTP_HOST", "127.0.0.1"], ["HTTP_PORT", "0"], ["OTEL_SERVICE_NAME", "ops"]]))
      )
    ))
})
