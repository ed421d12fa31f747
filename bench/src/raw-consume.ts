// The raw client's side of the consume figures: what a team would write with @nats-io/jetstream,
// @nats-io/kv and the OpenTelemetry SDK directly, doing the same work as the runner's rows.
import { JsPublishError, type PubAckPipeline } from "@conveyor/nats/internal/pub-ack-pipeline"
import { MESSAGING_SYSTEM, MessagingAttributes, OperationType } from "@conveyor/telemetry"
import type { JsMsg } from "@nats-io/jetstream"
import { headers } from "@nats-io/transport-node"
import type { KV } from "@nats-io/kv"
import { type Attributes, ROOT_CONTEXT, SpanKind, type TextMapGetter, type Tracer } from "@opentelemetry/api"
import { W3CTraceContextPropagator } from "@opentelemetry/core"
import { elapsed, type RawClient } from "./harness.js"

const decoder = new TextDecoder()
const utf8 = new TextEncoder()

/** Consumes from the durable with pulls of `batch`, runs `drain` over the messages, and answers messages a second. */
const timedConsume = async (raw: RawClient, stream: string, durable: string, count: number, batch: number, drain: (messages: AsyncIterable<JsMsg>) => Promise<void>): Promise<number> => {
  const t = performance.now()
  const consumer = await raw.js.consumers.get(stream, durable)
  const messages = await consumer.consume({ max_messages: batch })
  await drain(messages)
  const seconds = elapsed(t)
  messages.stop()
  return count / seconds
}

/** Drains `count` messages through a synchronous `handle` that acks each one. */
const rawLoop = (raw: RawClient, stream: string, durable: string, count: number, batch: number, handle: (m: JsMsg) => void): Promise<number> =>
  timedConsume(raw, stream, durable, count, batch, async (messages) => {
    let seen = 0
    for await (const m of messages) {
      handle(m)
      if (++seen === count) break
    }
  })

/** Drains `count` messages: `consume()`, JSON.parse, ack. */
export const rawConsume = (raw: RawClient, stream: string, durable: string, count: number, batch: number): Promise<number> =>
  rawLoop(raw, stream, durable, count, batch, (m) => {
    JSON.parse(decoder.decode(m.data))
    m.ack()
  })

/** The same with `ackAck()`: every ack confirmed before the figure is taken. */
export const rawConfirmedConsume = (raw: RawClient, stream: string, durable: string, count: number, batch: number): Promise<number> =>
  timedConsume(
    raw,
    stream,
    durable,
    count,
    batch,
    (messages) =>
      new Promise<void>((resolve, reject) => {
        let seen = 0
        let acked = 0
        void (async () => {
          for await (const m of messages) {
            JSON.parse(decoder.decode(m.data))
            m.ackAck().then(() => {
              if (++acked === count) resolve()
            }, reject)
            if (++seen === count) break
          }
        })().catch(reject)
      })
  )

/**
 * Drains `count` messages, `concurrency` at a time, each through `handle`, which acks it. The
 * iterator is held while all are busy, as the runner's workers hold theirs.
 */
const drainConcurrently = (raw: RawClient, stream: string, durable: string, count: number, concurrency: number, handle: (m: JsMsg) => Promise<void>): Promise<number> =>
  timedConsume(
    raw,
    stream,
    durable,
    count,
    concurrency,
    (messages) =>
      new Promise<void>((resolve, reject) => {
        let busy = 0
        let done = 0
        let free: (() => void) | undefined
        void (async () => {
          let seen = 0
          for await (const m of messages) {
            busy++
            handle(m).then(() => {
              busy--
              free?.()
              free = undefined
              if (++done === count) resolve()
            }, reject)
            if (++seen === count) break
            if (busy >= concurrency) await new Promise<void>((r) => (free = r))
          }
        })().catch(reject)
      })
  )

/**
 * The idempotency store's work with the KV API: claim the id (`kv.create`, which fails if the key
 * exists), JSON.parse, record it done (`kv.update` at the claim's revision, a compare-and-set), ack.
 * The record keeps the same fields as the runner's (a lease, then the outputs).
 */
export const rawKvConsume = (raw: RawClient, kv: KV, stream: string, durable: string, count: number, concurrency: number): Promise<number> =>
  drainConcurrently(raw, stream, durable, count, concurrency, async (m) => {
    const key = `raw.${durable}.${m.seq}`
    const revision = await kv.create(key, JSON.stringify({ s: "pending", until: Date.now() + 30_000 }))
    JSON.parse(decoder.decode(m.data))
    await kv.update(key, JSON.stringify({ s: "done", out: [] }), revision)
    m.ack()
  })

const expectingRevision = (revision: number) => {
  const h = headers()
  h.set("Nats-Expected-Last-Subject-Sequence", String(revision))
  return h
}

/**
 * The same two writes through Conveyor's PubAck pipeline, driven by plain callbacks instead of the
 * runner's Effect path: not what a raw client offers, but the bound for what the runner could
 * reach with these writes (the row comparing the two says what the Effect path costs).
 */
export const pipelinedKvConsume = (raw: RawClient, writes: PubAckPipeline, bucket: string, stream: string, durable: string, count: number, concurrency: number): Promise<number> =>
  drainConcurrently(
    raw,
    stream,
    durable,
    count,
    concurrency,
    (m) =>
      new Promise<void>((resolve, reject) => {
        const subject = `$KV.${bucket}.piped.${durable}.${m.seq}`
        writes.publish(subject, utf8.encode(JSON.stringify({ s: "pending", until: Date.now() + 30_000 })), expectingRevision(0), (claim) => {
          if (claim instanceof JsPublishError) return reject(claim)
          JSON.parse(decoder.decode(m.data))
          writes.publish(subject, utf8.encode(JSON.stringify({ s: "done", out: [] })), expectingRevision(claim.seq), (record) => {
            if (record instanceof JsPublishError) return reject(record)
            m.ack()
            resolve()
          })
        })
      })
  )

/** The attributes the runner puts on a consumer span, under the keys `@conveyor/telemetry` names. */
export const consumerSpanAttributes = (m: {
  readonly subject: string
  readonly messageId: string
  readonly stream: string
  readonly sequence: number
  readonly durable: string
  readonly deliveryCount: number
  readonly bodySize: number
}): Attributes => ({
  [MessagingAttributes.system]: MESSAGING_SYSTEM,
  [MessagingAttributes.operationType]: OperationType.process,
  [MessagingAttributes.operationName]: "process",
  [MessagingAttributes.destinationName]: m.subject,
  [MessagingAttributes.messageId]: m.messageId,
  [MessagingAttributes.stream]: m.stream,
  [MessagingAttributes.streamSequence]: m.sequence,
  [MessagingAttributes.consumerGroupName]: m.durable,
  [MessagingAttributes.deliveryCount]: m.deliveryCount,
  [MessagingAttributes.bodySize]: m.bodySize
})

const w3c = new W3CTraceContextPropagator()
const natsHeaders: TextMapGetter<JsMsg> = {
  keys: (m) => (m.headers ? [...m.headers.keys()] : []),
  get: (m, key) => m.headers?.get(key) || undefined
}

/**
 * A CONSUMER span per message through the OTel SDK, as the messaging conventions ask and as the
 * runner makes it: parent context from the message headers (W3C propagator), the same attributes,
 * the settlement set before the span ends. The tracer's provider holds the span processor.
 */
export const rawTracedConsume = (raw: RawClient, tracer: Tracer, stream: string, durable: string, count: number, batch: number): Promise<number> =>
  rawLoop(raw, stream, durable, count, batch, (m) => {
    const parent = w3c.extract(ROOT_CONTEXT, m, natsHeaders)
    const span = tracer.startSpan(
      `process ${m.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: consumerSpanAttributes({
          subject: m.subject,
          messageId: m.headers?.get("Nats-Msg-Id") || `${stream}:${m.seq}`,
          stream,
          sequence: m.seq,
          durable,
          deliveryCount: m.info.deliveryCount,
          bodySize: m.data.length
        })
      },
      parent
    )
    JSON.parse(decoder.decode(m.data))
    m.ack()
    span.setAttribute("conveyor.settlement", "acked")
    span.end()
  })
