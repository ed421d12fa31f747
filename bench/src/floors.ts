// What the machine and the libraries cost before any Conveyor code runs, for the two targets that
// are out of reach (bench/README.md, "Hot spots"). Run through profile.ts: `kvWrites`, `spanCost`.
import { createInbox, headers, type NatsConnection, type Subscription } from "@nats-io/transport-node"
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { defaultTelemetryConfig } from "@conveyor/telemetry"
import { Kvm } from "@nats-io/kv"
import { jetstream } from "@nats-io/jetstream"
import { elapsed } from "./harness.js"

/**
 * KV creates a second, the least a client can do: plain publishes to `$KV.<bucket>.<key>` expecting
 * no previous revision, one reply subscription for the PubAcks, `window` outstanding, nothing else
 * on the connection. The idempotency store's claim is exactly such a write.
 */
export const kvWriteRate = async (nc: NatsConnection, count: number, window = 256): Promise<number> => {
  const bucket = `floor_${Date.now()}`
  const kv = await new Kvm(jetstream(nc)).create(bucket, { ttl: 3_600_000, storage: "file" as never })
  const mustNotExist = headers()
  mustNotExist.set("Nats-Expected-Last-Subject-Sequence", "0")
  const inbox = createInbox()
  const value = new TextEncoder().encode(JSON.stringify({ s: "pending", until: Date.now() }))
  let outstanding = 0
  let room: (() => void) | undefined
  let subscription: Subscription | undefined
  const t = performance.now()
  try {
    await new Promise<void>((resolve, reject) => {
      let acked = 0
      subscription = nc.subscribe(`${inbox}.*`, {
        callback: (_err, m) => {
          const ack = m.json<{ error?: { description: string } }>()
          if (ack.error) return reject(new Error(ack.error.description))
          outstanding--
          room?.()
          room = undefined
          if (++acked === count) resolve()
        }
      })
      void (async () => {
        for (let i = 0; i < count; i++) {
          nc.publish(`$KV.${bucket}.k${i}`, value, { reply: `${inbox}.${i}`, headers: mustNotExist })
          if (++outstanding >= window) await new Promise<void>((r) => (room = r))
        }
      })()
    })
    return count / elapsed(t)
  } finally {
    subscription?.unsubscribe()
    await kv.destroy().catch(() => undefined)
  }
}

/**
 * Microseconds a CONSUMER span costs through the OTel SDK alone, no broker: start with the runner's
 * attributes, end, the app defaults' `BatchSpanProcessor` and OTLP/HTTP JSON export to `url`.
 */
export const otelSpanMicros = async (url: string, count: number): Promise<number> => {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench-floor" }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), defaultTelemetryConfig.batch)]
  })
  const tracer = provider.getTracer("bench-floor")
  const t = performance.now()
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan(
      "process bench.floor.3",
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.destination.name": "bench.floor.3",
          "messaging.message.id": `BENCH_FLOOR:${i}`,
          "messaging.nats.stream": "BENCH_FLOOR",
          "messaging.nats.message.stream_sequence": i,
          "messaging.consumer.group.name": "d1",
          "messaging.nats.message.delivery_count": 1,
          "messaging.message.body.size": 256
        }
      },
      ROOT_CONTEXT
    )
    span.setAttribute("conveyor.settlement", "acked")
    span.end()
    // Let the exporter's requests go out, as they would between a consumer's chunks.
    if (i % 512 === 511) await new Promise((r) => setImmediate(r))
  }
  await provider.forceFlush()
  const micros = (elapsed(t) * 1e6) / count
  await provider.shutdown()
  return micros
}
