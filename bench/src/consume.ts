import { defineHandler, makeRetryPolicy, tapResult } from "@conveyor/messaging"
import { NatsConnection, openKvIdempotencyStore, runJetStreamConsumer } from "@conveyor/nats"
// The bench measures this internal against the raw client; only the bench may import internals (eslint.config.mjs).
import { makePubAckPipeline } from "@conveyor/nats/internal/pub-ack-pipeline"
import { defaultTelemetryConfig, layerTracing } from "@conveyor/telemetry"
import type { ConsumerSpec } from "@conveyor/topology"
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base"
import { Deferred, Effect, Exit, Schema } from "effect"
import { type ConveyorRuntime, elapsed, jsonPayload, rawFill, type RawClient, runEffect } from "./harness.js"
import { pipelinedKvConsume, rawConfirmedConsume, rawConsume, rawKvConsume, rawTracedConsume } from "./raw-consume.js"
import { row, type Row } from "./report.js"
import { batchExportTo, type OtlpSink } from "./sink.js"
import { summarize } from "./stats.js"

export interface ConsumeSettings {
  readonly messages: number
  readonly runs: number
  /** Runner concurrency; also the pull batch of both sides. */
  readonly concurrency: number
  readonly payloadBytes: number
  /** Measure only these sides (profiling). */
  readonly only?: ReadonlyArray<Side>
}

const STREAM = "BENCH_CON"
const BUCKET = "bench_idempotency"
const Payload = Schema.Struct({ id: Schema.Number, pad: Schema.String })
const ACK_WAIT_MS = 30_000

export type Side = "raw" | "rawAckAck" | "rawKv" | "pipelinedKv" | "rawTraced" | "runner" | "runnerKv" | "runnerTraced" | "runnerTracedOtelContext" | "runnerTracedSampled" | "runnerConfirmed"

const spec = (durable: string): ConsumerSpec => ({
  stream: STREAM,
  durable,
  ackWaitMs: ACK_WAIT_MS,
  maxDeliver: -1,
  maxAckPending: 1_000,
  deliverPolicy: "all"
})

// The defaults an app gets from an empty environment (OTEL_BSP_*: 5 s delay, queue 2048, batches of 512).
const traceConfig = defaultTelemetryConfig

/** Drains `count` messages through `runJetStreamConsumer`: schema decode, a no-op handler, ack. */
const runnerConsume = (durable: string, count: number, concurrency: number, options: { kv: boolean; confirmAcks: boolean }) =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const idempotency = options.kv ? yield* openKvIdempotencyStore(client, BUCKET) : undefined
    const done = yield* Deferred.make<void>()
    let settled = 0
    const handler = defineHandler({ schema: Payload, handle: () => Effect.void, errors: {} })
    const t = performance.now()
    yield* runJetStreamConsumer(handler, {
      consumer: spec(durable),
      retry: makeRetryPolicy({ maxAttempts: 5 }),
      concurrency,
      confirmAcks: options.confirmAcks,
      deadLetters: false, // the handler never fails, and the bench stream has no dead-letter stream beside it
      ...(idempotency !== undefined ? { idempotency } : {}),
      middlewares: [tapResult(() => {
        if (++settled === count) Deferred.unsafeDone(done, Exit.void)
      })]
    })
    yield* Deferred.await(done)
    return count / elapsed(t)
  }).pipe(Effect.scoped)

/**
 * Consume-and-ack throughput of a prefilled stream, each measurement on a fresh durable (so every
 * one sees the same messages): the raw client, the runner, the runner with the KV idempotency store,
 * the runner with tracing exported over OTLP/HTTP to a local receiver, and confirmed acks on both
 * sides. Sides rotate within each run.
 */
export const benchConsume = async (conveyor: ConveyorRuntime, raw: RawClient, sink: OtlpSink, s: ConsumeSettings): Promise<Row[]> => {
  await raw.jsm.streams.add({ name: STREAM, subjects: ["bench.con.>"], storage: "file" as never })
  const kvm = new Kvm(raw.js)
  await kvm.create(BUCKET, { ttl: 3_600_000, storage: "file" as never })
  let durables = 0
  const writes = makePubAckPipeline(raw.nc, { inboxPrefix: "_INBOX", timeoutMs: 10_000 })
  const results: Record<Side, number[]> = { raw: [], rawAckAck: [], rawKv: [], pipelinedKv: [], rawTraced: [], runner: [], runnerKv: [], runnerTraced: [], runnerTracedOtelContext: [], runnerTracedSampled: [], runnerConfirmed: [] }
  let exported = 0
  let tracedMessages = 0
  try {
    await rawFill(raw.js, (i) => `bench.con.${i % 16}`, (i) => jsonPayload(i, s.payloadBytes), s.messages)
    const measure = async (side: Side, count: number, record: boolean) => {
      const durable = `d${++durables}`
      await raw.jsm.consumers.add(STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_ack_pending: 1_000
      })
      let rate: number
      switch (side) {
        case "raw":
          rate = await rawConsume(raw, STREAM, durable, count, s.concurrency)
          break
        case "rawAckAck":
          rate = await rawConfirmedConsume(raw, STREAM, durable, count, s.concurrency)
          break
        case "rawKv":
          rate = await rawKvConsume(raw, await kvm.open(BUCKET), STREAM, durable, count, s.concurrency)
          break
        case "pipelinedKv":
          rate = await pipelinedKvConsume(raw, writes, BUCKET, STREAM, durable, count, s.concurrency)
          break
        case "rawTraced": {
          const provider = new BasicTracerProvider({
            resource: resourceFromAttributes({ "service.name": "bench-raw" }),
            spanProcessors: [batchExportTo(sink.url)]
          })
          rate = await rawTracedConsume(raw, provider.getTracer("bench-raw"), STREAM, durable, count, s.concurrency)
          await provider.shutdown()
          break
        }
        case "runnerTraced":
        case "runnerTracedOtelContext":
        case "runnerTracedSampled": {
          // The second side exports the same way with CONVEYOR_OTEL_CONTEXT=true: every fiber step
          // runs inside the OTel context of its span (what OTel-instrumented libraries need). The
          // third samples one trace in ten, the operator's lever on the cost of tracing.
          const sampling = side === "runnerTracedSampled" ? { sampler: "parentbased_traceidratio" as const, samplerRatio: 0.1 } : {}
          const tracing = layerTracing({
            config: { ...traceConfig, ...sampling, otelContext: side === "runnerTracedOtelContext" },
            serviceName: "bench",
            spanProcessors: [batchExportTo(sink.url)]
          })
          const before = await sink.spans()
          rate = await runEffect(conveyor, runnerConsume(durable, count, s.concurrency, { kv: false, confirmAcks: false }).pipe(Effect.provide(tracing)))
          // The layer's release flushed the last batch: every span the run made has been sent.
          if (record && side === "runnerTraced") {
            tracedMessages += count
            exported += (await sink.spans()) - before
          }
          break
        }
        default:
          rate = await runEffect(
            conveyor,
            runnerConsume(durable, count, s.concurrency, { kv: side === "runnerKv", confirmAcks: side === "runnerConfirmed" })
          )
      }
      await raw.jsm.consumers.delete(STREAM, durable).catch(() => undefined)
      if (record) results[side].push(rate)
    }
    const all: Side[] = ["raw", "runner", "runnerKv", "rawKv", "pipelinedKv", "runnerTraced", "rawTraced", "rawAckAck", "runnerConfirmed", "runnerTracedOtelContext", "runnerTracedSampled"]
    const sides = all.filter((side) => s.only === undefined || s.only.includes(side))
    const warm = Math.min(2_000, s.messages)
    for (const side of sides) await measure(side, warm, false)
    for (let run = 0; run < s.runs; run++) {
      for (let k = 0; k < sides.length; k++) await measure(sides[(run + k) % sides.length]!, s.messages, true)
    }
  } finally {
    await raw.jsm.streams.delete(STREAM).catch(() => undefined)
    await kvm.open(BUCKET).then((kv) => kv.destroy()).catch(() => undefined)
  }
  const rawS = summarize(results.raw)
  const runner = summarize(results.runner)
  const kv = summarize(results.runnerKv)
  const rawKv = summarize(results.rawKv)
  const pipelinedKv = summarize(results.pipelinedKv)
  const traced = summarize(results.runnerTraced)
  const rawTraced = summarize(results.rawTraced)
  const otelContext = summarize(results.runnerTracedOtelContext)
  const sampled = summarize(results.runnerTracedSampled)
  /** The share of the untraced runner's throughput a traced side gives up, in percent. */
  const costOf = (side: typeof runner, untraced = runner) => Math.round((1 - side.median / untraced.median) * 100)
  const times = (a: typeof runner, b: typeof runner) => `${(a.median / b.median).toFixed(2)}×`
  return [
    row({
      id: "consume-runner",
      figure: "consume: decode + handler + ack (runner) vs consume + JSON.parse + ack (raw)",
      unit: "msg/s",
      conveyor: runner,
      raw: rawS,
      target: { text: "≥ 0.9× raw", met: runner.median >= 0.9 * rawS.median }
    }),
    row({
      id: "consume-kv",
      figure: "consume with the KV idempotency store (claim + complete per message)",
      unit: "msg/s",
      conveyor: kv,
      raw: rawS,
      note: `the raw client doing the same work reaches ${times(rawKv, rawS)} raw: next row`,
      target: { text: "≥ 0.5× raw", met: kv.median >= 0.5 * rawS.median }
    }),
    row({
      id: "consume-kv-same-work",
      figure: "consume with the KV idempotency store (runner) vs the raw client doing the same work: consume, kv.create (claim), JSON.parse, kv.update at the claim's revision (record), ack, 64 at a time",
      unit: "msg/s",
      conveyor: kv,
      raw: rawKv
    }),
    row({
      id: "consume-kv-pipelined",
      figure: "consume with the KV idempotency store (runner) vs the same two writes through Conveyor's PubAck pipeline driven by plain callbacks (no Effect: what the runner's Effect path costs on this row)",
      unit: "msg/s",
      conveyor: kv,
      raw: pipelinedKv
    }),
    row({
      id: "consume-traced",
      figure: "consume with tracing (BatchSpanProcessor, OTLP/HTTP JSON to a local receiver process)",
      unit: "msg/s",
      conveyor: traced,
      raw: rawS,
      note: `${exported} of ${tracedMessages} spans reached the receiver; the same span per message costs the raw client ${costOf(rawTraced, rawS)}%: next row`,
      target: { text: `tracing costs ≤ 20% of the runner's throughput (costs ${costOf(traced)}%)`, met: 1 - traced.median / runner.median <= 0.2 }
    }),
    row({
      id: "consume-traced-same-work",
      figure: "consume with tracing (runner) vs the raw client doing the same work: a CONSUMER span per message through the OTel SDK (parent from the headers, the runner's attributes), exported the same way",
      unit: "msg/s",
      conveyor: traced,
      raw: rawTraced
    }),
    row({
      id: "consume-traced-otel-context",
      figure: "consume with tracing exported the same way and CONVEYOR_OTEL_CONTEXT=true (each fiber step inside its span's OTel context, for OTel-instrumented libraries)",
      unit: "msg/s",
      conveyor: otelContext,
      raw: rawS,
      note: `costs ${costOf(otelContext)}% of the runner's throughput`
    }),
    row({
      id: "consume-traced-sampled",
      figure: "consume with tracing exported the same way, one trace in ten sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1)",
      unit: "msg/s",
      conveyor: sampled,
      raw: rawS,
      note: `costs ${costOf(sampled)}% of the runner's throughput`
    }),
    row({
      id: "consume-confirmed",
      figure: "consume with confirmed acks (runner default: ackAck) vs raw ackAck()",
      unit: "msg/s",
      conveyor: summarize(results.runnerConfirmed),
      raw: summarize(results.rawAckAck)
    })
  ]
}
