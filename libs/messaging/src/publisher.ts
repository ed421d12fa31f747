import { Context, Effect, type Schema } from "effect"
import { encodeMessage, type EncodeError, type OutgoingMessage, type PublishAck } from "./outgoing.js"
import type { PublishError } from "./publish-error.js"

/** Sends messages to durable streams and waits for the stream to confirm each one. */
export class Publisher extends Context.Tag("@conveyor/messaging/Publisher")<
  Publisher,
  {
    readonly publish: (message: OutgoingMessage) => Effect.Effect<PublishAck, PublishError>
    /** Keeps at most `maxInFlight` PubAcks outstanding; results in input order. */
    readonly publishAll: (
      messages: Iterable<OutgoingMessage>,
      options?: { readonly maxInFlight?: number }
    ) => Effect.Effect<ReadonlyArray<PublishAck>, PublishError>
  }
>() {}

/** Encodes a typed event with its Schema and publishes it. */
export const publishEvent = <A, I>(
  schema: Schema.Schema<A, I>,
  subject: string,
  value: A,
  options: { readonly msgId?: string; readonly headers?: Readonly<Record<string, string>> } = {}
): Effect.Effect<PublishAck, PublishError | EncodeError, Publisher> =>
  Effect.flatMap(encodeMessage(schema, subject, value, options), (message) =>
    Effect.flatMap(Publisher, (publisher) => publisher.publish(message))
  )
