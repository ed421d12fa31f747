import { type OutgoingMessage, type Publisher, tracedPublisher } from "@conveyor/messaging"
import { makeJetStreamPublisher, NatsConnection } from "@conveyor/nats"
import { defaultTelemetryConfig, layerTracing } from "@conveyor/telemetry"
import { Effect } from "effect"
import { type ConveyorRuntime, elapsed, jsonPayload, type RawClient, runEffect, windowed } from "./harness.js"
import { row, type Row } from "./report.js"
import { summarize } from "./stats.js"

export interface PublishSettings {
  readonly messages: number
  readonly window: number
  readonly runs: number
  readonly sizes: ReadonlyArray<number>
  /** Measure only these sides (profiling). */
  readonly only?: ReadonlyArray<"conveyor" | "conveyorTraced" | "raw" | "rawFast">
  /** Replicas of the stream published to (on a cluster); 1 by default. */
  readonly replicas?: number
}

const STREAM = "BENCH_PUB"
const SUBJECT = "bench.pub.x"

const label = (size: number) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`)

/**
 * Publish throughput awaiting every PubAck with `window` outstanding: Conveyor's JetStream
 * publisher (`publishAll`, on Conveyor's connection) against a raw `js.publish` loop on a default
 * connection and on one with `noAsyncTraces: true`; also the publisher wrapped by `tracedPublisher`
 * under an installed tracer (a PRODUCER span and trace headers per message, nothing exported:
 * without a tracer the traced publisher makes no span). The sides alternate within each
 * run, and the stream is purged before each measurement.
 */
/** A tracer that makes and samples every span and exports none: the span's own cost. */
const spansNotExported = layerTracing({ config: defaultTelemetryConfig, serviceName: "bench", spanProcessors: [] })

export const benchPublish = async (runtime: ConveyorRuntime, rawDefault: RawClient, rawFast: RawClient, s: PublishSettings): Promise<Row[]> => {
  await rawDefault.jsm.streams.add({ name: STREAM, subjects: ["bench.pub.>"], storage: "file" as never, num_replicas: s.replicas ?? 1 })
  const plain = await runEffect(runtime, Effect.map(NatsConnection, makeJetStreamPublisher))
  const publishers: Record<"conveyor" | "conveyorTraced", Publisher["Type"]> = { conveyor: plain, conveyorTraced: tracedPublisher(plain) }
  const rows: Row[] = []
  try {
    for (const size of s.sizes) {
      const payload = jsonPayload(0, size)
      const messages: ReadonlyArray<OutgoingMessage> = Array.from({ length: s.messages }, () => ({ subject: SUBJECT, payload }))
      const results = { conveyor: [] as number[], conveyorTraced: [] as number[], raw: [] as number[], rawFast: [] as number[] }
      const measure = async (side: keyof typeof results) => {
        await rawDefault.jsm.streams.purge(STREAM)
        const t = performance.now()
        if (side === "conveyor") {
          await runEffect(runtime, plain.publishAll(messages, { maxInFlight: s.window }))
        } else if (side === "conveyorTraced") {
          await runEffect(runtime, publishers.conveyorTraced.publishAll(messages, { maxInFlight: s.window }).pipe(Effect.provide(spansNotExported)))
        } else {
          const js = side === "raw" ? rawDefault.js : rawFast.js
          await windowed(s.messages, s.window, () => js.publish(SUBJECT, payload))
        }
        results[side].push(s.messages / elapsed(t))
      }
      // Warm-up: JIT and connection buffers, not counted.
      const warm = Math.min(2_000, s.messages)
      await runEffect(runtime, plain.publishAll(messages.slice(0, warm), { maxInFlight: s.window }))
      await runEffect(runtime, publishers.conveyorTraced.publishAll(messages.slice(0, warm), { maxInFlight: s.window }).pipe(Effect.provide(spansNotExported)))
      await windowed(warm, s.window, () => rawDefault.js.publish(SUBJECT, payload))
      await windowed(warm, s.window, () => rawFast.js.publish(SUBJECT, payload))
      const order = (["conveyor", "raw", "rawFast", "conveyorTraced"] as const).filter((side) => s.only === undefined || s.only.includes(side))
      for (let run = 0; run < s.runs; run++) {
        for (let k = 0; k < order.length; k++) await measure(order[(run + k) % order.length]!)
      }
      const conveyor = summarize(results.conveyor)
      const raw = summarize(results.raw)
      const ratio = conveyor.median / raw.median
      rows.push(
        row({
          id: `publish-${size}`,
          figure: `publish with PubAcks, ${label(size)}, window ${s.window}`,
          unit: "msg/s",
          conveyor,
          raw,
          note: "raw: default connect options",
          target: { text: `≥ 1.0× raw (aim ≥ 1.4×: ${ratio >= 1.4 ? "reached" : "not reached"})`, met: ratio >= 1.0 }
        }),
        row({
          id: `publish-${size}-noasynctraces`,
          figure: `publish with PubAcks, ${label(size)}, window ${s.window}`,
          unit: "msg/s",
          conveyor,
          raw: summarize(results.rawFast),
          note: "raw: noAsyncTraces: true"
        }),
        row({
          id: `publish-${size}-traced`,
          figure: `publish with PubAcks, ${label(size)}, window ${s.window}, traced publisher, tracer installed (span + trace headers per message, nothing exported)`,
          unit: "msg/s",
          conveyor: summarize(results.conveyorTraced),
          raw,
          note: "raw: default connect options"
        })
      )
    }
  } finally {
    await rawDefault.jsm.streams.delete(STREAM).catch(() => undefined)
  }
  return rows
}
