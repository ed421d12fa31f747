// What the machine and the libraries cost before any Conveyor code runs, for the two targets that
// are out of reach (bench/README.md, "Hot spots"). Run through profile.ts: `kvWrites`, `spanCost`.
import { createInbox, headers, type NatsConnection, type Subscription } from "@nats-io/transport-node"
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base"
import { Kvm } from "@nats-io/kv"
import { jetstream } from "@nats-io/jetstream"
import { elapsed } from "./harness.js"
import { consumerSpanAttributes } from "./raw-consume.js"
import { batchExportTo } from "./sink.js"

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
  let failed = false
  let subscription: Subscription | undefined
  const t = performance.now()
  try {
    await new Promise<void>((resolve, reject) => {
      let acked = 0
      subscription = nc.subscribe(`${inbox}.*`, {
        callback: (_err, m) => {
          const ack = m.json<{ error?: { description: string } }>()
          if (ack.error) {
            failed = true
            room?.()
            return reject(new Error(ack.error.description))
          }
          outstanding--
          room?.()
          room = undefined
          if (++acked === count) resolve()
        }
      })
      void (async () => {
        for (let i = 0; i < count && !failed; i++) {
          nc.publish(`$KV.${bucket}.k${i}`, value, { reply: `${inbox}.${i}`, headers: mustNotExist })
          if (++outstanding >= window) await new Promise<void>((r) => (room = r))
        }
      })().catch(reject)
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
    spanProcessors: [batchExportTo(url)]
  })
  const tracer = provider.getTracer("bench-floor")
  const t = performance.now()
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan(
      "process bench.floor.3",
      {
        kind: SpanKind.CONSUMER,
        attributes: consumerSpanAttributes({
          subject: "bench.floor.3",
          messageId: `BENCH_FLOOR:${i}`,
          stream: "BENCH_FLOOR",
          sequence: i,
          durable: "d1",
          deliveryCount: 1,
          bodySize: 256
        })
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
