import { Either, ParseResult, Schema } from "effect"
import {
  CapturePayment, OrderCommand as OrderCommandSchema, type OrderCommand, RecallShipment, RefundPayment, ReleaseStock, ReserveStock, ScheduleShipment
} from "./commands.js"
import {
  type DecodeError, type Family, InvalidMessage, MalformedMessage, UnknownMessageType, UnknownMessageVersion
} from "./decode-errors.js"
import {
  OrderCancelled, OrderCompleted, OrderEvent as OrderEventSchema, type OrderEvent, OrderPlaced, PaymentCaptured, PaymentDeclined, PaymentRefunded,
  ShipmentRecalled, ShipmentScheduled, StepTimedOut, StockRejected, StockReleased, StockReserved
} from "./events.js"

/** type -> version -> schema. Adding a version is adding an entry; old producers keep decoding. */
export type Registry = { readonly [type: string]: { readonly [version: number]: Schema.Schema.AnyNoContext } }

/** The union of every schema's type in a registry. */
export type RegistryType<R extends Registry> = {
  [T in keyof R]: { [V in keyof R[T]]: Schema.Schema.Type<R[T][V]> }[keyof R[T]]
}[keyof R]

const textDecoder = new TextDecoder("utf-8", { fatal: true })

const parse = (family: Family, input: unknown): Either.Either<unknown, MalformedMessage> => {
  if (!(typeof input === "string" || input instanceof Uint8Array)) return Either.right(input)
  try {
    return Either.right(JSON.parse(typeof input === "string" ? input : textDecoder.decode(input)))
  } catch (e) {
    return Either.left(new MalformedMessage({ family, reason: `not JSON (${e instanceof Error ? e.message : String(e)})` }))
  }
}

const describe = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value)

const issuesOf = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message
  }))

/**
 * Decodes a payload (JSON text, UTF-8 bytes, or an already-parsed value) into one member of the
 * family, telling apart: not an object at all, an unknown `type`, an unknown `version` of a known
 * type, and a known type+version whose fields fail validation (with the field path).
 */
export const makeDecoder = <const R extends Registry>(family: Family, registry: R) => {
  type A = RegistryType<R>
  const knownTypes = Object.keys(registry)
  return (input: unknown): Either.Either<A, DecodeError> =>
    Either.flatMap(parse(family, input), (value): Either.Either<A, DecodeError> => {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return Either.left(new MalformedMessage({ family, reason: `expected a JSON object, got ${describe(value)}` }))
      }
      const { type, version } = value as { readonly type?: unknown; readonly version?: unknown }
      if (typeof type !== "string") {
        return Either.left(new MalformedMessage({ family, reason: "missing string field \"type\"" }))
      }
      const versions = Object.hasOwn(registry, type) ? registry[type] : undefined
      if (versions === undefined) return Either.left(new UnknownMessageType({ family, type, known: knownTypes }))
      const schema = typeof version === "number" && Object.hasOwn(versions, version) ? versions[version] : undefined
      if (schema === undefined || typeof version !== "number") {
        return Either.left(new UnknownMessageVersion({ family, type, version, known: Object.keys(versions).map(Number) }))
      }
      return Schema.decodeUnknownEither(schema as Schema.Schema<A, unknown>, { errors: "all" })(value).pipe(
        Either.mapLeft((error) => new InvalidMessage({ family, type, version, issues: issuesOf(error) }))
      )
    })
}

export const eventRegistry = {
  OrderPlaced: { 1: OrderPlaced },
  StockReserved: { 1: StockReserved },
  StockRejected: { 1: StockRejected },
  PaymentCaptured: { 1: PaymentCaptured },
  PaymentDeclined: { 1: PaymentDeclined },
  ShipmentScheduled: { 1: ShipmentScheduled },
  ShipmentRecalled: { 1: ShipmentRecalled },
  StockReleased: { 1: StockReleased },
  PaymentRefunded: { 1: PaymentRefunded },
  OrderCompleted: { 1: OrderCompleted },
  OrderCancelled: { 1: OrderCancelled },
  StepTimedOut: { 1: StepTimedOut }
} as const satisfies Registry

export const commandRegistry = {
  ReserveStock: { 1: ReserveStock },
  ReleaseStock: { 1: ReleaseStock },
  CapturePayment: { 1: CapturePayment },
  RefundPayment: { 1: RefundPayment },
  ScheduleShipment: { 1: ScheduleShipment },
  RecallShipment: { 1: RecallShipment }
} as const satisfies Registry

/** Annotated so a registry that drifts from the unions fails to compile. */
export const decodeEvent: (input: unknown) => Either.Either<OrderEvent, DecodeError> = makeDecoder("event", eventRegistry)
export const decodeCommand: (input: unknown) => Either.Either<OrderCommand, DecodeError> = makeDecoder("command", commandRegistry)

/** JSON text for the wire; the inverse of the decoders (validating, so a bad message never leaves). */
export const encodeEvent = (event: OrderEvent): string => JSON.stringify(Schema.encodeSync(OrderEventSchema)(event))
export const encodeCommand = (command: OrderCommand): string => JSON.stringify(Schema.encodeSync(OrderCommandSchema)(command))

/**
 * A decoder as a Schema from any JSON value, for runtimes that take a Schema per handler: decoding
 * fails with the decoder's message (malformed / unknown type / unknown version / field path).
 */
const asSchema = <A, I>(target: Schema.Schema<A, I>, decode: (input: unknown) => Either.Either<A, DecodeError>) =>
  Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(target), {
    strict: true,
    decode: (input, _options, ast) =>
      Either.mapLeft(decode(input), (error) => new ParseResult.Type(ast, input, error.message)),
    encode: (value) => ParseResult.encodeUnknown(target)(value)
  })

export const OrderEventMessage: Schema.Schema<OrderEvent, unknown> = asSchema(OrderEventSchema, decodeEvent)
export const OrderCommandMessage: Schema.Schema<OrderCommand, unknown> = asSchema(OrderCommandSchema, decodeCommand)
