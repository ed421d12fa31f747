import type { MsgHdrs, Msg, NatsConnection as RawConnection, Subscription } from "@nats-io/transport-node"
import { nuid, PermissionViolationError } from "@nats-io/transport-node"
import { Data, Effect } from "effect"

/** What a JetStream publish came to: the stored sequence, or why not. */
export interface PubAckOk {
  readonly stream: string
  readonly seq: number
  readonly duplicate: boolean
}

/**
 * A JetStream publish that was not stored. `errCode` is JetStream's (e.g. 10071 wrong last
 * sequence), `status` the NATS status (503: no stream listens on the subject), neither for a timeout.
 */
export class JsPublishError extends Data.TaggedError("JsPublishError")<{
  readonly subject: string
  readonly message: string
  readonly errCode?: number | undefined
  readonly status?: number | undefined
  readonly timedOut?: boolean | undefined
  /** The server refused the publish for permissions (a `-ERR`, no reply): never worth retrying. */
  readonly permissionDenied?: boolean | undefined
}> {}

type Waiting = { readonly subject: string; readonly deadline: number; readonly done: (result: Msg | JsPublishError) => void }

const utf8 = new TextDecoder()

/**
 * JetStream publishes awaiting their PubAcks (and other requests answered once, such as confirmed
 * acks) through one wildcard reply subscription: a reply is
 * matched by its last subject token, timeouts are swept by one timer. `js.publish` (and so the KV
 * client) makes a request per message, and each request builds a timer, a promise and an Error with
 * a captured stack (even on success, when the request is cancelled after its reply): most of the
 * client's CPU per KV write.
 */
export const makePubAckPipeline = (nc: RawConnection, options: { readonly inboxPrefix: string; readonly timeoutMs: number }) => {
  const prefix = `${options.inboxPrefix}.${nuid.next()}.`
  const waiting = new Map<string, Waiting>()
  let next = 0
  let sweeper: ReturnType<typeof setInterval> | undefined
  let subscription: Subscription | undefined
  /** Ends a request still waiting (callers looked it up: a late reply to a timed-out one finds nothing). */
  const settle = (token: string, w: Waiting, result: Msg | JsPublishError) => {
    waiting.delete(token)
    w.done(result)
  }
  const onReply = (error: Error | null, msg: Msg) => {
    if (error !== null) {
      // The subscription itself failed (permissions, connection closed): nothing more will arrive.
      for (const [token, w] of waiting) settle(token, w, new JsPublishError({ subject: w.subject, message: error.message, permissionDenied: true }))
      subscription = undefined
      return
    }
    const token = msg.subject.slice(prefix.length)
    const w = waiting.get(token)
    if (w === undefined) return // timed out already
    settle(token, w, msg)
  }
  // A publish the server refuses for permissions gets no reply, only a `-ERR` naming the subject:
  // like nats.js's own requests, the oldest one waiting on that subject fails with it at once
  // (not retryable), instead of timing out as if the server were slow.
  void (async () => {
    for await (const status of nc.status()) {
      const error = status.type === "error" ? status.error : undefined
      if (!(error instanceof PermissionViolationError) || error.operation !== "publish") continue
      for (const [token, w] of waiting) {
        if (w.subject !== error.subject) continue
        settle(token, w, new JsPublishError({ subject: w.subject, message: error.message, permissionDenied: true }))
        break
      }
    }
  })()
  const sweep = () => {
    const now = Date.now()
    for (const [token, w] of waiting) {
      if (w.deadline <= now) settle(token, w, new JsPublishError({ subject: w.subject, message: `no PubAck within ${options.timeoutMs} ms`, timedOut: true }))
    }
    if (waiting.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper)
      sweeper = undefined
    }
  }
  /** Sends `payload` to `subject` with a reply subject of the pipeline and calls `done` once with the reply or the error (timeout included). */
  const request = (subject: string, payload: Uint8Array, headers: MsgHdrs | undefined, done: (result: Msg | JsPublishError) => void): void => {
    if (nc.isClosed()) return done(new JsPublishError({ subject, message: "connection closed" }))
    subscription ??= nc.subscribe(`${prefix}*`, { callback: onReply })
    const token = (next++).toString(36)
    const w: Waiting = { subject, deadline: Date.now() + options.timeoutMs, done }
    waiting.set(token, w)
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, Math.max(50, Math.floor(options.timeoutMs / 4)))
      sweeper.unref()
    }
    try {
      nc.publish(subject, payload, headers === undefined ? { reply: `${prefix}${token}` } : { reply: `${prefix}${token}`, headers })
    } catch (e) {
      settle(token, w, new JsPublishError({ subject, message: e instanceof Error ? e.message : String(e) }))
    }
  }
  /** Publishes `payload` to `subject` and calls `done` once with the PubAck or the error. */
  const publish = (subject: string, payload: Uint8Array, headers: MsgHdrs | undefined, done: (result: PubAckOk | JsPublishError) => void): void =>
    request(subject, payload, headers, (r) => done(r instanceof JsPublishError ? r : parseReply(subject, r)))
  return {
    publish,
    request,
    /** `publish` as an Effect (no promise in between). */
    publishEffect: (subject: string, payload: Uint8Array, headers?: MsgHdrs): Effect.Effect<PubAckOk, JsPublishError> =>
      Effect.async((resume) => publish(subject, payload, headers, (r) => resume(r instanceof JsPublishError ? Effect.fail(r) : Effect.succeed(r)))),
    /** Requests awaiting their PubAck. */
    pending: (): number => waiting.size
  }
}

export type PubAckPipeline = ReturnType<typeof makePubAckPipeline>

const parseReply = (subject: string, msg: Msg): PubAckOk | JsPublishError => {
  const h = msg.headers
  if (msg.data.length === 0 && h !== undefined && h.hasError) {
    return new JsPublishError({
      subject,
      status: h.code,
      message: h.code === 503 ? `no stream listens on ${subject} (no responders)` : `${h.code} ${h.description}`
    })
  }
  let reply: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } }
  try {
    reply = JSON.parse(utf8.decode(msg.data))
  } catch {
    return new JsPublishError({ subject, message: "unreadable PubAck" })
  }
  if (reply.error !== undefined) {
    return new JsPublishError({ subject, message: reply.error.description ?? "JetStream error", errCode: reply.error.err_code, status: reply.error.code })
  }
  if (typeof reply.stream !== "string" || typeof reply.seq !== "number") return new JsPublishError({ subject, message: "unreadable PubAck" })
  return { stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true }
}

const shared = new WeakMap<RawConnection, PubAckPipeline>()

/**
 * The connection's one PubAck pipeline, made on first use: every JetStream publish and KV write
 * of Conveyor's runtime on this connection goes through it (one reply subscription, one sweeper),
 * so none of them pays for a nats.js request.
 */
export const pubAckPipelineOf = (client: { readonly nc: RawConnection; readonly inboxPrefix: string }): PubAckPipeline => {
  let pipeline = shared.get(client.nc)
  if (pipeline === undefined) {
    pipeline = makePubAckPipeline(client.nc, { inboxPrefix: client.inboxPrefix, timeoutMs: 10_000 })
    shared.set(client.nc, pipeline)
  }
  return pipeline
}
