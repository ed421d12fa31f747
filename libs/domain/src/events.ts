import { Schema } from "effect"
import { versioned } from "./message.js"
import { Attempt, Cents, CustomerId, Id, itemsTotalCents, LineItems, OrderId, Reason, Timestamp } from "./primitives.js"

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
