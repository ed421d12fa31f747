import { defineHandler, makeMemoryIdempotencyStore, makeRetryPolicy, publishEvent, type Settlement, tapResult } from "@conveyor/messaging"
import { layerTelemetryWithOpsServer, Metrics } from "@conveyor/telemetry"
import { eventually } from "@conveyor/testing"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Duration, Effect, Layer } from "effect"
import { deadLetterTopology, ensureTopologyReady, JetStreamPublisherLive, makeNatsConfig, NatsConnectionLive, runJetStreamConsumer } from "../src/index.js"
import { natsReadinessChecks, registerConnectionCheck } from "../src/readiness.js"
import { pollQueueMetrics } from "../src/queue-metrics.js"
import { outcomeHandler, Work } from "./support.js"

const server = useNatsServer()

const env = ConfigProvider.fromMap(
  new Map([
    ["HTTP_HOST", "127.0.0.1"],
    ["HTTP_PORT", "0"],
    ["OTEL_SERVICE_NAME", "ops-e2e"]
  ])
)

/** Telemetry and the ops server as an app builds them, readiness requiring the NATS checks. */
const Telemetry = layerTelemetryWithOpsServer({ serviceName: "ops-e2e", requiredChecks: natsReadinessChecks }).pipe(
  Layer.provide(Layer.setConfigProvider(env))
)

const nats = () => NatsConnectionLive(makeNatsConfig({ servers: [server.url], name: "ops-e2e", connectTimeout: Duration.seconds(5), reconnectFor: Duration.minutes(1) }))

const baseUrl = HttpServer.addressWith((address) =>
  Effect.sync(() => (address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "unexpected address"))
)

const get = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(url)
    return { status: res.status, body: await res.text() }
  })

const topologyFor = (stream: string) => {
  const prefix = stream.toLowerCase()
  const deadLetters = { stream: `${stream}_DLQ`, subjectPrefix: `${prefix}-dlq` }
  const topology = defineTopology({
    streams: [{ name: stream, subjects: [`${prefix}.>`] }, ...deadLetterTopology(deadLetters).streams],
    consumers: [
      { stream, durable: "worker", filterSubjects: [`${prefix}.orders`], ackWaitMs: 5_000 },
      // Nobody pulls from this one: its backlog is every message published.
      { stream, durable: "backlog", filterSubjects: [`${prefix}.orders`], ackWaitMs: 5_000 }
    ]
  })
  return { topology, deadLetters, subject: `${prefix}.orders` }
}

describe("metrics and readiness of a running consumer", () => {
  it.scopedLive("/metrics reports the counts of a known run and the backlog of an idle consumer", () =>
    Effect.gen(function* () {
      const telemetry = yield* Layer.build(Telemetry)
      const base = yield* Effect.provide(baseUrl, telemetry)
      const connection = yield* Layer.build(nats())
      const publisher = yield* Layer.build(JetStreamPublisherLive.pipe(Layer.provide(Layer.succeedContext(Context.merge(telemetry, connection)))))
      const ctx = Context.merge(Context.merge(telemetry, connection), publisher)
      const stream = uniqueName("OPS")
      const { topology, deadLetters, subject } = topologyFor(stream)
      yield* Effect.provide(ensureTopologyReady(topology), ctx)

      // "dup" was done before: the idempotency store answers AlreadyDone.
      const idempotency = makeMemoryIdempotencyStore()
      const claim = yield* idempotency.claim("worker.dup", 1_000)
      if (claim._tag !== "Claimed") throw new Error("claim")
      yield* idempotency.complete(claim.claim, [])

      const settled: Array<Settlement> = []
      const handler = outcomeHandler()
      const worker = topology.consumers.find((c) => c.durable === "worker")!
      yield* Effect.provide(
        runJetStreamConsumer(handler, {
          consumer: worker,
          retry: makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100, jitter: 0 }),
          idempotency,
          deadLetters,
          metrics: Context.get(ctx, Metrics),
          middlewares: [tapResult((_d, { settlement: s }) => void settled.push(s))]
        }),
        ctx
      )
      yield* Effect.provide(pollQueueMetrics({ consumers: topology.consumers, deadLetterStreams: [deadLetters.stream], interval: "100 millis" }), ctx)

      const orders = [{ id: "a1" }, { id: "a2" }, { id: "a3" }, { id: "r", fail: "once" as const }, { id: "d", fail: "always" as const }, { id: "dup" }]
      for (const order of orders) yield* Effect.provide(publishEvent(Work, subject, order, { msgId: order.id }), ctx)
      yield* Effect.promise(() => eventually(() => settled.length >= 7, 20_000, "7 settlements"))
      expect([...settled].sort()).toEqual(["acked", "acked", "acked", "acked", "dead-lettered", "duplicate", "retried"])

      const line = (name: string, labels: string) => `${name}{${labels}}`
      const settledGauges = [
        `${line("conveyor_consumer_pending", `stream="${stream}",consumer="backlog"`)} 6`,
        `${line("conveyor_consumer_pending", `stream="${stream}",consumer="worker"`)} 0`,
        `${line("conveyor_consumer_ack_pending", `stream="${stream}",consumer="worker"`)} 0`,
        `${line("conveyor_dead_letter_depth", `stream="${deadLetters.stream}"`)} 1`
      ]
      const text = yield* Effect.promise(() => eventually(async () => {
        const body = (await Effect.runPromise(get(`${base}/metrics`))).body
        return settledGauges.every((l) => body.split("\n").includes(l)) ? body : undefined
      }, 20_000, "queue gauges of the settled run"))
      const lines = text.split("\n")
      const has = (l: string) => expect(lines).toContain(l)
      has('conveyor_messages_processed_total{consumer="worker",outcome="acked"} 4')
      has('conveyor_messages_processed_total{consumer="worker",outcome="retried"} 1')
      has('conveyor_messages_processed_total{consumer="worker",outcome="dead_lettered"} 1')
      has('conveyor_messages_processed_total{consumer="worker",outcome="duplicate"} 1')
      // Every delivery's handling is timed: a1..a3, r twice, d and the duplicate.
      has('conveyor_handler_duration_seconds_count{consumer="worker"} 7')
      has(`conveyor_publish_duration_seconds_count{subject="${subject}"} 6`)
      has(`conveyor_consumer_pending{stream="${stream}",consumer="backlog"} 6`)
      has(`conveyor_consumer_ack_pending{stream="${stream}",consumer="backlog"} 0`)
      has(`conveyor_consumer_pending{stream="${stream}",consumer="worker"} 0`)
      has(`conveyor_consumer_ack_pending{stream="${stream}",consumer="worker"} 0`)
      has(`conveyor_consumer_dead_letter_depth{stream="${deadLetters.stream}",source_stream="${stream}",consumer="worker"} 1`)
      has(`conveyor_consumer_dead_letter_depth{stream="${deadLetters.stream}",source_stream="${stream}",consumer="backlog"} 0`)
      has(`conveyor_consumer_redelivered{stream="${stream}",consumer="backlog"} 0`)
      expect(text).toMatch(new RegExp(`conveyor_consumer_waiting\\{stream="${stream}",consumer="worker"\\} \\d+`))
      has(`conveyor_dead_letter_depth{stream="${deadLetters.stream}"} 1`)
      expect(text).toContain('service_name="ops-e2e"')
    }), 60_000)

  it.scopedLive("/readyz: not ready before the connection and topology, ready after, down with the server, back with it; /healthz stays up", () =>
    Effect.gen(function* () {
      const telemetry = yield* Layer.build(Telemetry)
      const base = yield* Effect.provide(baseUrl, telemetry)
      const readyz = Effect.map(get(`${base}/readyz`), (r) => ({ status: r.status, failing: (JSON.parse(r.body) as { failing: Array<string> }).failing }))
      const healthz = Effect.map(get(`${base}/healthz`), (r) => r.status)

      const before = yield* readyz
      expect(before.status).toBe(503)
      expect([...before.failing].sort()).toEqual(["nats-connected", "topology-ensured"])
      expect(yield* healthz).toBe(200)

      const connection = yield* Layer.build(nats())
      const ctx = Context.merge(telemetry, connection)
      yield* Effect.provide(registerConnectionCheck, ctx)
      const connectedOnly = yield* readyz
      expect(connectedOnly).toEqual({ status: 503, failing: ["topology-ensured"] })

      const { topology } = topologyFor(uniqueName("READY"))
      yield* Effect.provide(ensureTopologyReady(topology), ctx)
      const worker = topology.consumers.find((c) => c.durable === "worker")!
      const handler = defineHandler({ schema: Work, handle: () => Effect.void, errors: {} })
      yield* Effect.provide(runJetStreamConsumer(handler, { consumer: worker, retry: makeRetryPolicy({ maxAttempts: 3 }), deadLetters: false }), ctx)
      expect(yield* readyz).toEqual({ status: 200, failing: [] })

      yield* Effect.promise(() => server.kill())
      const down = yield* Effect.promise(() => eventually(() => Effect.runPromise(readyz).then((r) => (r.status === 503 ? r : undefined)), 20_000, "not ready after the kill"))
      expect(down.failing).toContain("nats-connected")
      expect(yield* healthz).toBe(200)

      yield* Effect.promise(() => server.restart())
      yield* Effect.promise(() => eventually(() => Effect.runPromise(readyz).then((r) => r.status === 200), 30_000, "ready after the restart"))
      expect(yield* healthz).toBe(200)
    }), 60_000)
})
