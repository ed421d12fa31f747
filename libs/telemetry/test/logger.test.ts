import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Either, Logger, LogLevel, Redacted } from "effect"
import { InMemorySpanExporter, layerJsonLogger, layerTracingInMemory, LogSettings, makeAppLogger, makeJsonLogger, redact } from "../src/index.js"
import { REDACTED } from "../src/redact.js"

const capture = () => {
  const lines: Array<string> = []
  const layer = Logger.replace(Logger.defaultLogger, makeJsonLogger({ serviceName: "log-test", keys: ["cardNumber"], write: (l) => lines.push(l) }))
  return { lines, layer, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) }
}

describe("JSON logger", () => {
  it.live("carries trace_id and span_id of the current span, service, level and annotations", () => {
    const { layer, parsed } = capture()
    return Effect.gen(function* () {
      const span = yield* Effect.currentSpan
      yield* Effect.logInfo("order accepted").pipe(Effect.annotateLogs({ orderId: "o-1" }))
      const [line] = parsed()
      expect(line).toMatchObject({
        level: "info",
        service: "log-test",
        message: "order accepted",
        trace_id: span.traceId,
        span_id: span.spanId,
        annotations: { orderId: "o-1" }
      })
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
    }).pipe(
      Effect.withSpan("handle"),
      Effect.provide(layer),
      Effect.provide(layerTracingInMemory(new InMemorySpanExporter()))
    )
  })

  it.live("outside a span there are no ids; failures carry the cause", () => {
    const { layer, parsed } = capture()
    return Effect.gen(function* () {
      yield* Effect.logError("publish failed", new Error("boom"))
      const [line] = parsed()
      expect(line?.trace_id).toBeUndefined()
      expect(line?.level).toBe("error")
    }).pipe(Effect.provide(layer))
  })

  it.live("never prints credentials or fields marked secret", () => {
    const { layer, lines } = capture()
    return Effect.gen(function* () {
      yield* Effect.logInfo("connecting to nats://conveyor:hunter2@nats:4222", {
        natsPassword: "hunter2",
        headers: { Authorization: "Bearer abc.def.ghi", "Nats-Msg-Id": "m-1" },
        creds: "-----BEGIN NATS USER JWT-----\neyJ0eXAi\n------END NATS USER JWT------",
        nkeySeed: "SUAM3MGSL6UOXMF5ELEBEM5V4HZFRE2T2IDL4RS2ZAXOZBQGW2NPMW6GWE",
        payload: { orderId: "o-1", cardNumber: "4111111111111111", cvv: Redacted.make("123") },
        note: "seed SUAM3MGSL6UOXMF5ELEBEM5V4HZFRE2T2IDL4RS2ZAXOZBQGW2NPMW6GWE leaked"
      }).pipe(Effect.annotateLogs({ token: "t0k3n", apiKey: "k", user: "alice" }))
      const all = lines.join("\n")
      for (const secret of ["hunter2", "abc.def.ghi", "eyJ0eXAi", "SUAM3MGSL6", "4111111111111111", "123\"", "t0k3n"]) {
        expect(all).not.toContain(secret)
      }
      const line = JSON.parse(lines[0]!)
      expect(line.message[0]).toBe(`connecting to nats://conveyor:${REDACTED}@nats:4222`)
      expect(line.message[1].headers["Nats-Msg-Id"]).toBe("m-1")
      expect(line.message[1].payload.orderId).toBe("o-1")
      expect(line.annotations).toEqual({ token: REDACTED, apiKey: REDACTED, user: "alice" })
    }).pipe(Effect.provide(layer))
  })

  it("redact copies without touching the original and survives cycles", () => {
    const value: Record<string, unknown> = { password: "p", nested: { ok: 1 } }
    value.self = value
    expect(redact(value)).toEqual({ password: REDACTED, nested: { ok: 1 }, self: "[Circular or too deep]" })
    expect(value.password).toBe("p")
  })

  it.live("a cause logged without a message shows its first line, at the level it was logged", () => {
    const { layer, parsed } = capture()
    return Effect.gen(function* () {
      yield* Effect.logError(Cause.fail(new Error("EADDRINUSE: address already in use")))
      const [line] = parsed()
      expect(line?.message).toBe("EADDRINUSE: address already in use")
      expect(line?.level).toBe("error")
    }).pipe(Effect.provide(layer))
  })

  it.live("a token alone in a NATS URL is redacted too", () =>
    Effect.sync(() => expect(redact("nats://t0k3n@nats:4222 and tls://u:p4ss@h:1")).toBe(`nats://${REDACTED}@nats:4222 and tls://u:${REDACTED}@h:1`)))

  it.live("LOG_LEVEL and LOG_FORMAT choose the level and one format; an unknown level is refused naming it", () =>
    Effect.gen(function* () {
      const load = (env: Record<string, string>) =>
        Effect.either(LogSettings).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
      expect(Either.getOrThrow(yield* load({ LOG_LEVEL: "WARN", LOG_FORMAT: "json" }))).toEqual({ level: LogLevel.Warning, format: "json" })
      expect(Either.getOrThrow(yield* load({ LOG_FORMAT: "pretty" })).level).toEqual(LogLevel.Info)
      const bad = yield* load({ LOG_LEVEL: "loud" })
      expect(Either.isLeft(bad) && String(bad.left)).toMatch(/LOG_LEVEL.*must be one of/)
      const lines: Array<string> = []
      const pretty = makeAppLogger({ level: LogLevel.Info, format: "pretty" }, { serviceName: "svc", write: (l) => lines.push(l) })
      yield* Effect.logWarning("connecting to nats://u:hunter2@h:1").pipe(Effect.annotateLogs({ orderId: "o-1" }), Effect.provide(Logger.replace(Logger.defaultLogger, pretty)))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}svc: connecting to nats:\/\/u:\[REDACTED\]@h:1 orderId=o-1$/)
    }))

  it.live("an app logger installed inside another (an app's telemetry layer under runMain's) replaces it: each line is written once", () => {
    const outer: Array<string> = []
    const inner: Array<string> = []
    return Effect.gen(function* () {
      yield* Effect.logInfo("Listening on http://127.0.0.1:1")
      expect(inner).toHaveLength(1)
      expect(outer).toHaveLength(0)
    }).pipe(
      Effect.provide(layerJsonLogger({ serviceName: "inner", write: (l) => inner.push(l) })),
      Effect.provide(layerJsonLogger({ serviceName: "outer", write: (l) => outer.push(l) })),
      Effect.zipRight(Effect.logInfo("after the inner layer").pipe(Effect.provide(layerJsonLogger({ serviceName: "outer", write: (l) => outer.push(l) })))),
      Effect.tap(() => Effect.sync(() => expect(outer).toHaveLength(1)))
    )
  })
})
