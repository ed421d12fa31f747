import { JetStreamApiError } from "@nats-io/jetstream"
import { headers as makeHeaders, type MsgHdrs, NoRespondersError, PermissionViolationError, RequestError } from "@nats-io/transport-node"
import { Metrics } from "@conveyor/telemetry"
import { Effect, Layer, Option } from "effect"
import {
  cancellableAsync,
  NoStreamForSubject,
  type OutgoingMessage,
  PayloadTooLarge,
  type PublishAck,
  type PublishError,
  PublishFailed,
  Publisher,
  StreamFull,
  tracedPublisher
} from "@conveyor/messaging"
import { NatsConnection, type NatsClient } from "./connection.js"
import { errorText } from "./errors.js"
import { JsPublishError, pubAckPipelineOf, type PubAckOk } from "./internal/pub-ack-pipeline.js"

// JetStream API error codes (nats-server errors.json) that mean "the stream refused, by policy".
const MESSAGE_TOO_LARGE = 10054
const FULL_CODES = new Set([10077, 10078, 10047, 10048]) // max msgs, max bytes, storage resources, memory resources

/** Maps what nats.js throws on publish to a typed error; never leaves a failure untyped. */
export const classifyPublishError = (message: OutgoingMessage, error: unknown): PublishError => {
  const subject = message.subject
  const text = errorText(error)
  if (error instanceof JsPublishError && error.errCode !== undefined) {
    if (error.errCode === MESSAGE_TOO_LARGE) return new PayloadTooLarge({ subject, size: message.payload.length, detail: text })
    if (FULL_CODES.has(error.errCode)) return new StreamFull({ subject, detail: text })
    return new PublishFailed({ subject, reason: text, retryable: error.status === 503 })
  }
  if (error instanceof JsPublishError && error.status === 503) return new NoStreamForSubject({ subject })
  if (error instanceof JsPublishError && error.permissionDenied === true) return new PublishFailed({ subject, reason: text, retryable: false })
  if (error instanceof JetStreamApiError) {
    if (error.code === MESSAGE_TOO_LARGE) return new PayloadTooLarge({ subject, size: message.payload.length, detail: text })
    if (FULL_CODES.has(error.code)) return new StreamFull({ subject, detail: text })
    return new PublishFailed({ subject, reason: text, retryable: error.code === 503 })
  }
  if (error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders())) return new NoStreamForSubject({ subject })
  if (/max_payload|maximum payload/i.test(text)) return new PayloadTooLarge({ subject, size: message.payload.length, detail: text })
  if (error instanceof PermissionViolationError || (error instanceof Error && error.cause instanceof PermissionViolationError)) {
    return new PublishFailed({ subject, reason: text, retryable: false })
  }
  return new PublishFailed({ subject, reason: text, retryable: true })
}

/** The message's headers with `Nats-Msg-Id`, as nats.js would send them. */
const headersOf = (message: OutgoingMessage): MsgHdrs | undefined => {
  const record = message.headers
  const keys = record === undefined ? [] : Object.keys(record)
  if (keys.length === 0 && message.msgId === undefined) return undefined
  const h = makeHeaders()
  for (const k of keys) h.set(k, record![k]!)
  if (message.msgId !== undefined) h.set("Nats-Msg-Id", message.msgId)
  return h
}

/** Publishes through the connection's PubAck pipeline: no nats.js request (timer, promise, Error) per message. */
const send = (client: NatsClient, message: OutgoingMessage, done: (result: PubAckOk | JsPublishError) => void): void =>
  pubAckPipelineOf(client).publish(message.subject, message.payload, headersOf(message), done)

const publishOne = (client: NatsClient, message: OutgoingMessage): Effect.Effect<PublishAck, PublishError> =>
  Effect.async((resume) =>
    send(client, message, (r) => resume(r instanceof JsPublishError ? Effect.fail(classifyPublishError(message, r)) : Effect.succeed(r)))
  )

/**
 * Keeps up to `window` PubAcks outstanding through the connection's PubAck pipeline, driven by its
 * callbacks inside one Effect. Effect.forEach with a concurrency forked a fiber
 * per message, which held publishing to a fraction of the raw client's rate. The first failure
 * stops it (messages already sent stay sent); acks come back in input order.
 */
const publishWindowed = (client: NatsClient, messages: Iterable<OutgoingMessage>, window: number): Effect.Effect<ReadonlyArray<PublishAck>, PublishError> =>
  cancellableAsync((resume) => {
    const list: ReadonlyArray<OutgoingMessage> = Array.isArray(messages) ? messages : Array.from(messages)
    const acks = new Array<PublishAck>(list.length)
    let next = 0
    let acked = 0
    let stopped = false
    const fail = (message: OutgoingMessage, e: unknown) => {
      if (stopped) return
      stopped = true
      resume(Effect.fail(classifyPublishError(message, e)))
    }
    const pump = () => {
      while (!stopped && next < list.length && next - acked < window) {
        const i = next++
        const message = list[i]!
        send(client, message, (r) => {
          if (r instanceof JsPublishError) return fail(message, r)
          if (stopped) return
          acks[i] = r
          if (++acked < list.length) return pump()
          stopped = true
          resume(Effect.succeed(acks))
        })
      }
    }
    if (list.length === 0) resume(Effect.succeed([]))
    else pump()
    return Effect.sync(() => {
      stopped = true
    })
  })

export const makeJetStreamPublisher = (client: NatsClient): Publisher["Type"] => ({
  publish: (message) => publishOne(client, message),
  publishAll: (messages, options) => publishWindowed(client, messages, Math.max(1, options?.maxInFlight ?? 256))
})

/**
 * `server.address` and `server.port` of the server the client is connected to when asked (the
 * messaging conventions recommend them on every span).
 */
export const serverAttributes = (client: NatsClient): Record<string, string | number> => {
  const server = client.nc.getServer()
  const colon = server.lastIndexOf(":")
  const port = Number(server.slice(colon + 1))
  return colon > 0 && Number.isInteger(port) ? { "server.address": server.slice(0, colon), "server.port": port } : { "server.address": server }
}

/** Traced: a PRODUCER span per message with its context in the headers (and publish timing when Metrics is provided). */
export const JetStreamPublisherLive: Layer.Layer<Publisher, never, NatsConnection> = Layer.effect(
  Publisher,
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const metrics = yield* Effect.serviceOption(Metrics)
    return tracedPublisher(makeJetStreamPublisher(client), Option.getOrUndefined(metrics), serverAttributes(client))
  })
)
