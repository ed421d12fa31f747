// The order's messages: events (facts), commands (work for a worker), their subjects, and their
// decoders and encoders.
import { deadLetterSubject, defaultDeadLetters } from "@conveyor/topology"
import { Either, ParseResult, Schema } from "effect"
import type { DecodeError } from "./decode-errors.js"
import { Attempt, Cents, CustomerId, Id, itemsTotalCents, LineItems, OrderId, Reason, Timestamp } from "./primitives.js"
import { makeDecoder, messageTypesOf, type Registry, versioned } from "./versioned.js"

const OrderPlacedFields = versioned("OrderPlaced", 1, {
  orderId: OrderId,
  customerId: CustomerId,
  items: LineItems,
  totalCents: Cents,
  placedAt: Timestamp
})
const OrderPlacedChecked = OrderPlacedFields.pipe(
  Schema.filter((o) =>
    o.totalCents === itemsTotalCents(o.items) ||
    { path: ["totalCents"], message: `must equal the sum of the items (${itemsTotalCents(o.items)})` })
)
/**
 * `make` is replaced because a refinement's own `make` skips the struct's constructor defaults, so
 * `type`/`version` would be reported missing.
 */
export const OrderPlaced = Object.assign(OrderPlacedChecked, {
  make: (props: Parameters<typeof OrderPlacedFields.make>[0], options?: Schema.MakeOptions) => {
    const value = OrderPlacedFields.make(props, options)
    return options === true || (typeof options === "object" && options.disableValidation === true)
      ? value
      : Schema.validateSync(OrderPlacedChecked)(value)
  }
})
export type OrderPlaced = typeof OrderPlaced.Type

export const StockReserved = versioned("StockReserved", 1, { orderId: OrderId })
export type StockReserved = typeof StockReserved.Type

export const StockRejected = versioned("StockRejected", 1, { orderId: OrderId, reason: Reason })
export type StockRejected = typeof StockRejected.Type

export const PaymentCaptured = versioned("PaymentCaptured", 1, { orderId: OrderId, paymentId: Id, amountCents: Cents })
export type PaymentCaptured = typeof PaymentCaptured.Type

export const PaymentDeclined = versioned("PaymentDeclined", 1, { orderId: OrderId, reason: Reason })
export type PaymentDeclined = typeof PaymentDeclined.Type

export const ShipmentScheduled = versioned("ShipmentScheduled", 1, { orderId: OrderId, trackingId: Id })
export type ShipmentScheduled = typeof ShipmentScheduled.Type

/** `trackingId` names the shipment that was cancelled; absent when none had been scheduled. */
export const ShipmentRecalled = versioned("ShipmentRecalled", 1, { orderId: OrderId, trackingId: Schema.optional(Id) })
export type ShipmentRecalled = typeof ShipmentRecalled.Type

export const StockReleased = versioned("StockReleased", 1, { orderId: OrderId })
export type StockReleased = typeof StockReleased.Type

/** `amountCents` is 0 when nothing had been captured (a refund after an unanswered capture). */
export const PaymentRefunded = versioned("PaymentRefunded", 1, {
  orderId: OrderId,
  amountCents: Cents,
  paymentId: Schema.optional(Id)
})
export type PaymentRefunded = typeof PaymentRefunded.Type

export const OrderCompleted = versioned("OrderCompleted", 1, { orderId: OrderId, paymentId: Id, trackingId: Id })
export type OrderCompleted = typeof OrderCompleted.Type

/** The workflow's steps; also the names of their timeout timers. */
export const Step = Schema.Literal("reserve", "capture", "ship", "recall", "refund", "release")
export type Step = typeof Step.Type

export const OrderCancelled = versioned("OrderCancelled", 1, {
  orderId: OrderId,
  reason: Reason,
  /** Compensating steps that completed before cancelling, e.g. ["refund", "release"]. */
  compensations: Schema.Array(Step)
})
export type OrderCancelled = typeof OrderCancelled.Type

/** Published by the orchestrator when a step's timer is due; its message id is `<timerId>@<dueAt>` (`firingId`). */
export const StepTimedOut = versioned("StepTimedOut", 1, {
  orderId: OrderId,
  step: Step,
  attempt: Attempt,
  timerId: Schema.String
})
export type StepTimedOut = typeof StepTimedOut.Type

export const OrderEvent = Schema.Union(
  OrderPlaced, StockReserved, StockRejected, PaymentCaptured, PaymentDeclined, ShipmentScheduled, ShipmentRecalled,
  StockReleased, PaymentRefunded, OrderCompleted, OrderCancelled, StepTimedOut
)
export type OrderEvent = typeof OrderEvent.Type
export type OrderEventType = OrderEvent["type"]

/** The order workflow's outcome: the events it emits about the order when it finishes. */
export const OrderOutcome = Schema.Union(OrderCompleted, OrderCancelled)
export type OrderOutcome = typeof OrderOutcome.Type

/**
 * Every command names its order and its attempt. Workers must act once per order and action, not
 * per message: a retried attempt has a new message id but must not reserve or charge twice.
 */
const base = { orderId: OrderId, attempt: Attempt }

export const ReserveStock = versioned("ReserveStock", 1, { ...base, items: LineItems })
export type ReserveStock = typeof ReserveStock.Type

/** Releases whatever this order holds; a worker answers StockReleased even if nothing was reserved. */
export const ReleaseStock = versioned("ReleaseStock", 1, { ...base, items: LineItems })
export type ReleaseStock = typeof ReleaseStock.Type

export const CapturePayment = versioned("CapturePayment", 1, { ...base, customerId: CustomerId, amountCents: Cents })
export type CapturePayment = typeof CapturePayment.Type

/** Refunds what was captured for the order, if anything; `paymentId` is absent when the capture went unanswered. */
export const RefundPayment = versioned("RefundPayment", 1, { ...base, amountCents: Cents, paymentId: Schema.optional(Id) })
export type RefundPayment = typeof RefundPayment.Type

export const ScheduleShipment = versioned("ScheduleShipment", 1, { ...base, customerId: CustomerId, items: LineItems })
export type ScheduleShipment = typeof ScheduleShipment.Type

/**
 * Undoes the order's shipment: cancels it if it was scheduled, and in any case leaves a tombstone so
 * that a ScheduleShipment arriving later (an attempt the workflow abandoned) is refused.
 */
export const RecallShipment = versioned("RecallShipment", 1, base)
export type RecallShipment = typeof RecallShipment.Type

export const OrderCommand = Schema.Union(ReserveStock, ReleaseStock, CapturePayment, RefundPayment, ScheduleShipment, RecallShipment)
export type OrderCommand = typeof OrderCommand.Type
export type OrderCommandType = OrderCommand["type"]

/**
 * Subject scheme. Events: `orders.events.<type-kebab>`, one stream, so any consumer can pick all
 * events or one kind. Commands: `orders.commands.<worker>.<action>`, so each worker's durable filters
 * on a single subject (nats-server 2.9 allows one filter per consumer). Dead letters mirror the
 * subject they came from under `dlq.`, so replay can route them back.
 */
export const StreamNames = { events: "ORDER_EVENTS", commands: "ORDER_COMMANDS", deadLetters: defaultDeadLetters.stream } as const

export const AllEvents = "orders.events.>"
export const AllCommands = "orders.commands.>"
export const AllDeadLetters = `${defaultDeadLetters.subjectPrefix}.>`

export type Worker = "inventory" | "payments" | "shipping"
export const Workers: ReadonlyArray<Worker> = ["inventory", "payments", "shipping"]

const kebab = (type: string): string => type.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()

export const eventSubject = (event: OrderEvent | OrderEventType): string =>
  `orders.events.${kebab(typeof event === "string" ? event : event.type)}`

/** The subjects of the events `events` accepts (read from its schema): the filter of a durable that takes exactly those. */
export const eventSubjectsOf = <A extends OrderEvent>(events: Schema.Schema<A, any>): ReadonlyArray<string> =>
  messageTypesOf(events).map(eventSubject)

/** Which worker executes a command and the action token of its subject. */
export const commandRoutes: { readonly [T in OrderCommandType]: { readonly worker: Worker; readonly action: string } } = {
  ReserveStock: { worker: "inventory", action: "reserve" },
  ReleaseStock: { worker: "inventory", action: "release" },
  CapturePayment: { worker: "payments", action: "capture" },
  RefundPayment: { worker: "payments", action: "refund" },
  ScheduleShipment: { worker: "shipping", action: "schedule" },
  RecallShipment: { worker: "shipping", action: "recall" }
}

export const commandSubject = (command: OrderCommand | OrderCommandType): string => {
  const route = commandRoutes[typeof command === "string" ? command : command.type]
  return `orders.commands.${route.worker}.${route.action}`
}

/** Every command subject one worker consumes. */
export const workerSubject = (worker: Worker): string => `orders.commands.${worker}.>`

/** Where a message that failed on `consumer` of `stream` is dead-lettered: `dlq.<stream>.<consumer>`. */
export { deadLetterSubject }

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
export const encodeEvent = (event: OrderEvent): string => JSON.stringify(Schema.encodeSync(OrderEvent)(event))
export const encodeCommand = (command: OrderCommand): string => JSON.stringify(Schema.encodeSync(OrderCommand)(command))

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

export const OrderEventMessage: Schema.Schema<OrderEvent, unknown> = asSchema(OrderEvent, decodeEvent)
export const OrderCommandMessage: Schema.Schema<OrderCommand, unknown> = asSchema(OrderCommand, decodeCommand)
