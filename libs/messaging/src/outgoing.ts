import { Effect, Schema } from "effect"

/** A message a publisher sends or a handler produces. Headers are plain strings (W3C trace context, ids). */
export interface OutgoingMessage {
  readonly subject: string
  readonly payload: Uint8Array
  /** Becomes `Nats-Msg-Id`: the stream drops a repeat within its duplicate window. */
  readonly msgId?: string
  readonly headers?: Readonly<Record<string, string>>
}

/** What the stream said when it stored (or de-duplicated) a message. */
export interface PublishAck {
  readonly stream: string
  readonly seq: number
  readonly duplicate: boolean
}

export class EncodeError extends Schema.TaggedError<EncodeError>()("EncodeError", {
  subject: Schema.String,
  message: Schema.String
}) {}

/**
 * `text` as UTF-8 bytes, for payloads, KV values and protocol lines: Node's Buffer.from, which
 * takes small ones from its pool, is 3 to 5 times as fast as TextEncoder.encode on Node 20.
 */
export const utf8Bytes = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** Encodes `value` with its Schema into a JSON message for `subject`. */
export const encodeMessage = <A, I>(
  schema: Schema.Schema<A, I>,
  subject: string,
  value: A,
  options: { readonly msgId?: string; readonly headers?: Readonly<Record<string, string>> } = {}
): Effect.Effect<OutgoingMessage, EncodeError> =>
  Schema.encode(schema)(value).pipe(
    Effect.mapError((e) => new EncodeError({ subject, message: e.message })),
    Effect.map((encoded) => ({ subject, payload: utf8Bytes(JSON.stringify(encoded)), ...options }))
  )

/**
 * Id of the n-th message a handler produces while processing `incomingId`. Stable across re-runs,
 * so re-publishing after a crash is dropped by the stream's duplicate window.
 */
export const derivedMessageId = (incomingId: string, label: string | number): string => `${incomingId}>${label}`

/** Whether `messageId` is `incomingId` or was produced, at any remove, while processing it. */
export const isDerivedFrom = (messageId: string, incomingId: string): boolean =>
  messageId === incomingId || messageId.startsWith(derivedMessageId(incomingId, ""))
