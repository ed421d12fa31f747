import type { JsMsg } from "@nats-io/jetstream"
import { AckFailed, DeadLetterHeaders, type Delivery } from "@conveyor/messaging"
import { REPLAY_SUBJECT_PREFIX } from "@conveyor/topology"
import { Chunk, Data, Effect, Option, Runtime, Stream } from "effect"
import type { NatsClient } from "./connection.js"
import { ConnectionLost, errorText } from "./errors.js"
import { fromMsgHdrs } from "./internal/headers.js"
import { JsPublishError, type PubAckPipeline, pubAckPipelineOf } from "./internal/pub-ack-pipeline.js"

export class PullFailed extends Data.TaggedError("PullFailed")<{ readonly stream: string; readonly durable: string; readonly cause: string }> {
  override get message() {
    return `cannot pull from ${this.stream}/${this.durable}: ${this.cause}`
  }
}

export interface PullOptions {
  readonly stream: string
  readonly durable: string
  /** Messages requested per pull; at most twice this many wait in the process beyond those being handled. */
  readonly batch: number
  /**
   * Ack with server confirmation (`ackAck`). Costs a round trip (pipelined) per message and makes
   * "acked" mean "will not come back"; off, acks are fire-and-forget.
   */
  readonly confirmAcks: boolean
}

const noHeaders: Readonly<Record<string, string>> = Object.freeze({})

/**
 * A JetStream message as a Delivery. A class rather than an object literal: the dispositions are
 * prototype methods and getters, made only when the runner asks for them, instead of four closures
 * and their Effects allocated per message whether used or not.
 */
class JetStreamDelivery implements Delivery {
  readonly subject: string
  readonly payload: Uint8Array
  readonly headers: Readonly<Record<string, string>>
  readonly stream: string
  readonly consumer: string
  readonly streamSequence: number
  readonly deliveryCount: number
  private readonly timestampNanos: number
  private id: string | undefined
  /** `confirm`: where confirmed acks wait for the server's reply; without it, acks are fire-and-forget. */
  constructor(private readonly m: JsMsg, private readonly confirm: PubAckPipeline | undefined) {
    const info = m.info
    this.payload = m.data
    this.headers = m.headers === undefined ? noHeaders : fromMsgHdrs(m.headers)
    // A dead letter replayed to this durable's replay subject is handled as on its own subject.
    this.subject = m.subject.startsWith(REPLAY_SUBJECT_PREFIX) ? (this.headers[DeadLetterHeaders.replayOfSubject] ?? m.subject) : m.subject
    this.stream = info.stream
    this.consumer = info.consumer
    this.streamSequence = info.streamSequence
    this.deliveryCount = info.deliveryCount
    this.timestampNanos = info.timestampNanos
  }
  // Made when first asked for: a quick handler's delivery never needs it.
  get messageId(): string {
    this.id ??= this.headers["Nats-Msg-Id"] ?? `${this.stream}:${this.streamSequence}`
    return this.id
  }
  get publishedAt(): Date {
    return new Date(Math.floor(this.timestampNanos / 1_000_000))
  }
  get ack(): Effect.Effect<void, AckFailed> {
    const m = this.m
    const messageId = this.messageId
    const confirm = this.confirm
    if (confirm === undefined) return Effect.sync(() => m.ack())
    // nats.js's JsMsg keeps the reply subject in `msg` (as its own ackAck reads it). Found, the
    // ack is sent as ackAck sends it (+ACK with a reply subject; any answer confirms it) and waits
    // in the connection's pipeline, not in a nats.js request per ack (a timer, promises and an
    // Error); `didAck` is set as ackAck sets it, so nothing is sent for the message after it.
    const impl = m as unknown as { msg?: { reply?: string }; didAck?: boolean }
    const reply = impl.msg?.reply
    if (typeof reply !== "string" || reply === "" || impl.didAck !== false) {
      return Effect.tryPromise({ try: () => m.ackAck(), catch: (e) => new AckFailed({ messageId, reason: errorText(e) }) }).pipe(
        Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail(new AckFailed({ messageId, reason: "ack not confirmed (already acked or expired)" }))))
      )
    }
    return Effect.async((resume) => {
      impl.didAck = true
      confirm.request(reply, ACK, undefined, (r) => {
        if (r instanceof JsPublishError) return resume(Effect.fail(new AckFailed({ messageId, reason: r.message })))
        // A status instead of an answer: 503 no responders (the consumer is gone).
        if (r.headers?.hasError === true) return resume(Effect.fail(new AckFailed({ messageId, reason: `ack not confirmed: ${r.headers.code} ${r.headers.description}` })))
        resume(Effect.void)
      })
    })
  }
  ackNow(): boolean {
    if (this.confirm !== undefined) return false
    this.m.ack()
    return true
  }
  nak(delayMs: number): Effect.Effect<void> {
    return Effect.sync(() => this.m.nak(delayMs))
  }
  // Plain +TERM: nats-server before 2.10 ignores "+TERM <reason>" and redelivers the message after
  // its ack wait, forever. The reason travels in the dead letter's headers instead.
  term(_reason: string): Effect.Effect<void> {
    return Effect.sync(() => this.m.term())
  }
  get working(): Effect.Effect<void> {
    return Effect.sync(() => this.m.working())
  }
}

/**
 * `<stream>/<consumer>` of the consumer that delivered a message, from its ack subject (undefined
 * without one). A pull inbox also gets whatever a push consumer is pointed at: nats-server does not
 * check a deliver subject against its creator's rights (issue 8274), and the monitoring port's
 * /connz lists inboxes. So a message there is this durable's only if this says so.
 */
export const deliveredBy = (m: JsMsg): string | undefined => {
  try {
    return `${m.info.stream}/${m.info.consumer}`
  } catch {
    return undefined
  }
}

const ACK = new TextEncoder().encode("+ACK")

/** `confirm`: the pipeline confirmed acks wait in (the connection's), when the options ask for confirmed acks. */
export const toDelivery = (m: JsMsg, confirm: PubAckPipeline | undefined): Delivery => new JetStreamDelivery(m, confirm)

/**
 * Deliveries from a durable pull consumer as a Stream. Ending the stream (or its scope) stops
 * pulling; messages already delivered but not handled are redelivered after their ack wait. The
 * stream fails if the connection is lost for good.
 */
export const pullDeliveries = (client: NatsClient, options: PullOptions, stop: Effect.Effect<void> = Effect.never): Stream.Stream<Delivery, PullFailed | ConnectionLost> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const fail = (e: unknown) => new PullFailed({ stream: options.stream, durable: options.durable, cause: errorText(e) })
      const chunk = Math.max(1, options.batch)
      const consumer = yield* Effect.tryPromise({ try: () => client.js.consumers.get(options.stream, options.durable), catch: fail })
      const messages = yield* Effect.acquireRelease(
        // Each pull asks for the whole batch (a smaller pull left the runner waiting on the server
        // for a tenth of the time); with the chunk between iterator and runner, what the process
        // holds beyond the handlers stays under two batches. Chunks of a whole batch: each chunk
        // costs the runner a scheduler round, and an iterator held back at a fraction of the batch
        // leaves the client's next pull late (the process sat idle a tenth of the time); chunks of
        // a quarter, then half a batch, gave quick handlers 15%, then 8% less throughput.
        Effect.tryPromise({ try: () => consumer.consume({ max_messages: options.batch }), catch: fail }),
        // close() resolves only when the outstanding pull expires (up to 30 s): do not wait for it.
        (m) => Effect.sync(() => void m.close().catch(() => undefined))
      )
      // stop() ends the iterator at once; interrupting its pending next() would not.
      yield* Effect.forkScoped(Effect.zipRight(stop, Effect.sync(() => messages.stop())))
      // A lost connection ends the iterator with that error. (Stream.interruptWhen would do the
      // same at a cost per element that capped throughput at a few thousand messages a second.)
      yield* Effect.forkScoped(Effect.catchAll(client.lost, (lost) => Effect.sync(() => messages.stop(lost))))
      // A foreign delivery is dropped before the handler: not acked or terminated either, since
      // its ack subject belongs to another consumer (and this user may not publish there).
      const log = Runtime.runFork(yield* Effect.runtime<never>())
      const durable = `${options.stream}/${options.durable}`
      const own = (m: JsMsg): boolean => {
        const from = deliveredBy(m)
        if (from === durable) return true
        log(Effect.logWarning("dropped a message on the pull inbox that its durable did not deliver", { durable, from: from ?? "no JetStream ack subject", subject: m.subject }))
        return false
      }
      const confirm = options.confirmAcks ? pubAckPipelineOf(client) : undefined
      return chunked(messages, chunk, own, (m) => toDelivery(m, confirm), (e) => (e instanceof ConnectionLost ? e : fail(e)))
    })
  )

/**
 * The iterator as a Stream of chunks: a plain loop moves messages into a buffer, and the stream
 * takes everything buffered at once. Stream.fromAsyncIterable cost an Effect round per message
 * (about a third of the runner's time); this costs one per chunk. The loop advances only while the
 * stream waits for data and stops at `cap`, so the client still pulls only as fast as the runner
 * takes (its pulls run when the iterator is advanced), and at most `cap` (+1) wait between the two.
 */
const chunked = <A, E>(messages: AsyncIterable<JsMsg>, cap: number, accept: (m: JsMsg) => boolean, map: (m: JsMsg) => A, error: (e: unknown) => E): Stream.Stream<A, E> => {
  let buffer: Array<A> = []
  let ended: { readonly error?: unknown } | undefined
  let waiting: (() => void) | undefined
  let demand: (() => void) | undefined
  // The taker is woken on the next macrotask, not at once: by then the loop has moved every
  // message the client already holds (up to `cap`), so a chunk is what arrived together.
  let scheduled = false
  const wakeNow = () => {
    scheduled = false
    const w = waiting
    waiting = undefined
    w?.()
  }
  const wake = () => {
    if (waiting === undefined || scheduled) return
    scheduled = true
    setImmediate(wakeNow)
  }
  void (async () => {
    try {
      for await (const m of messages) {
        if (!accept(m)) continue
        buffer.push(map(m))
        wake()
        if (waiting === undefined || buffer.length >= cap) await new Promise<void>((resolve) => (demand = resolve))
      }
      ended = {}
    } catch (e) {
      ended = { error: e }
    }
    wake()
  })()
  const take = Effect.async<Chunk.Chunk<A>, Option.Option<E>>((resume) => {
    const deliver = () => {
      if (buffer.length > 0) {
        const out = buffer
        buffer = []
        resume(Effect.succeed(Chunk.unsafeFromArray(out)))
      } else if (ended !== undefined) {
        resume(Effect.fail("error" in ended ? Option.some(error(ended.error)) : Option.none()))
      } else {
        waiting = deliver
        const d = demand
        demand = undefined
        d?.()
      }
    }
    deliver()
    return Effect.sync(() => {
      waiting = undefined
    })
  })
  return Stream.repeatEffectChunkOption(take)
}
