import { Effect, Either, ParseResult, Schema } from "effect"
import type { Delivery } from "./delivery.js"
import type { ErrorHandlingMap, TaggedFailure } from "./error-handling.js"
import { derivedMessageId, encodeMessage, type EncodeError, type OutgoingMessage } from "./outgoing.js"

/** What a handler gets besides its decoded event. */
export interface HandlerContext {
  readonly delivery: Delivery
  /**
   * Builds a message this handler produces, with an id derived from the incoming message id and
   * `label` (unique within one handling), so a re-run publishes nothing new.
   */
  readonly message: <A, I>(schema: Schema.Schema<A, I>, subject: string, value: A, label: string) => Effect.Effect<OutgoingMessage, EncodeError>
}

/**
 * A typed handler: its Schema decodes the payload, its errors each map to how it is handled (an
 * unmapped error tag does not compile), and it returns the messages it produces; the runtime
 * publishes them, de-duplicated, before the ack.
 */
export interface MessageHandler<A, I, E extends TaggedFailure, R> {
  readonly schema: Schema.Schema<A, I>
  readonly handle: (event: A, context: HandlerContext) => Effect.Effect<ReadonlyArray<OutgoingMessage> | void, E, R>
  readonly errors: ErrorHandlingMap<E>
}

/**
 * `handle` is checked against the Effect's variance alone, not the whole `Effect` type: comparing two
 * Effects, the compiler blames the first optional property that differs (every Effect has optional
 * `Unify` symbols) and reports a wrong success type as "... with 'exactOptionalPropertyTypes: true'.
 * Consider adding 'undefined' ...". Against the variance it says "Type 'number' is not assignable
 * to type 'void | readonly OutgoingMessage[]'".
 */
export const defineHandler = <A, I, E extends TaggedFailure = never, R = never>(handler: {
  readonly schema: Schema.Schema<A, I>
  readonly handle: (event: A, context: HandlerContext) => Effect.Effect.Variance<ReadonlyArray<OutgoingMessage> | void, E, R>
  readonly errors: ErrorHandlingMap<E>
}): MessageHandler<A, I, E, R> => handler as MessageHandler<A, I, E, R>

/** The payload is not JSON, or not what the schema allows (unknown type or version included). */
export class DecodeFailure extends Schema.TaggedError<DecodeFailure>()("DecodeFailure", {
  subject: Schema.String,
  message: Schema.String
}) {}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A decoder for one schema, made once per handler: decodes a payload's bytes as JSON, then by the schema. */
export const payloadDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  return (subject: string, payload: Uint8Array): Either.Either<A, DecodeFailure> => {
    let json: unknown
    try {
      json = JSON.parse(utf8.decode(payload))
    } catch (e) {
      return Either.left(new DecodeFailure({ subject, message: `malformed JSON: ${e instanceof Error ? e.message : String(e)}` }))
    }
    const decoded = decode(json)
    return Either.isRight(decoded) ? (decoded as Either.Either<A, never>) : Either.left(new DecodeFailure({ subject, message: ParseResult.TreeFormatter.formatErrorSync(decoded.left) }))
  }
}

/** A class: its `message` is a prototype method, not a closure made per delivery. */
class DeliveryContext implements HandlerContext {
  constructor(readonly delivery: Delivery) {}
  message<A, I>(schema: Schema.Schema<A, I>, subject: string, value: A, label: string): Effect.Effect<OutgoingMessage, EncodeError> {
    return encodeMessage(schema, subject, value, { msgId: derivedMessageId(this.delivery.messageId, label) })
  }
}

export const makeHandlerContext = (delivery: Delivery): HandlerContext => new DeliveryContext(delivery)
