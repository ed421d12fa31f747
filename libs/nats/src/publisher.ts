import { JetStreamApiError, type PubAck } from "@nats-io/jetstream"
import { Metrics } from "@conveyor/telemetry"
import { Effect, Layer, Option } from "effect"
import {
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
import { toMsgHdrs } from "./headers.js"

// JetStream API error codes (nats-server errors.json) that mean "the stream refused, by policy".
const MESSAGE_TOO_LARGE = 10054
const FULL_CODES = new Set([10077, 10078, 10047, 10048]) // max msgs, max bytes, storage resources, memory resources

/** Maps what nats.js throws on publish to a typed error; never leaves a failure untyped. */
export const classifyPublishError = (message: OutgoingMessage, error: unknown): PublishError => {
  const subject = message.subject
  const text = errorText(error)
  const cause = error instanceof Error ? errorText(error.cause) : ""
  if (error instanceof JetStreamApiError) {
    if (error.code === MESSAGE_TOO_LARGE) return new PayloadTooLarge({ subject, size: message.payload.length, detail: text })
    if (FULL_CODES.has(error.code)) return new StreamFull({ subject, detail: text })
    return new PublishFailed({ subject, reason: text, retryable: error.code === 503 })
  }
  if (/no responders/i.test(text) || /no responders/i.test(cause)) return new NoStreamForSubject({ subject })
  if (/max_payload|maximum payload/i.test(text)) return new PayloadTooLarge({ subject, size: message.payload.length, detail: text })
  if (/permission/i.test(text)) return new PublishFailed({ subject, reason: text, retryable: false })
  return new PublishFailed({ subject, reason: text, retryable: true })
}

const send = (client: NatsClient, message: OutgoingMessage): Promise<PubAck> => {
  const options: { msgID?: string; headers?: ReturnType<typeof toMsgHdrs> } = {}
  if (message.msgId !== undefined) options.msgID = message.msgId
  const hdrs = toMsgHdrs(message.headers)
  if (hdrs !== undefined) options.headers = hdrs
  return client.js.publish(message.subject, message.payload, options as never)
}

const toAck = (ack: PubAck): PublishAck => ({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate })

const publishOne = (client: NatsClient, message: OutgoingMessage): Effect.Effect<PublishAck, PublishError> =>
  Effect.tryPromise({ try: () => send(client, message), catch: (e) => classifyPublishError(message, e) }).pipe(Effect.map(toAck))

/**
 * Keeps up to `window` PubAcks outstanding (nats.js pipelines requests on one connection), driven
 * by the promises' own callbacks inside one Effect. Effect.forEach with a concurrency forked a fiber
 * per message, which held publishing to a fraction of the raw client's rate. The first failure
 * stops it (messages already sent stay sent); acks come back in input order.
 */
const publishWindowed = (client: NatsClient, messages: Iterable<OutgoingMessage>, window: number): Effect.Effect<ReadonlyArray<PublishAck>, PublishError> =>
  Effect.async((resume) => {
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
        let sent: Promise<PubAck>
        try {
          sent = send(client, message)
        } catch (e) {
          return fail(message, e)
        }
        sent.then(
          (ack) => {
            if (stopped) return
            acks[i] = toAck(ack)
            if (++acked < list.length) return pump()
            stopped = true
            resume(Effect.succeed(acks))
          },
          (e) => fail(message, e)
        )
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
