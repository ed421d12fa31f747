import { Schema } from "effect"
import { Step } from "./messages.js"
import { Attempt, Cents, CustomerId, Id, LineItems, OrderId, Reason } from "./primitives.js"

/** What every step needs from the placed order, copied once so no step reads another store. */
export const OrderSnapshot = Schema.Struct({ orderId: OrderId, customerId: CustomerId, items: LineItems, totalCents: Cents })
export type OrderSnapshot = typeof OrderSnapshot.Type

const common = {
  order: OrderSnapshot,
  /**
   * Steps whose command was sent at least once. An answer for one of them that is not the current
   * step is late or duplicated (ignored); an answer for a step never asked for is illegal.
   */
  asked: Schema.Array(Step)
}
const inStep = { ...common, attempt: Attempt }

export const ReservingStock = Schema.TaggedStruct("ReservingStock", inStep)
export const CapturingPayment = Schema.TaggedStruct("CapturingPayment", inStep)
export const SchedulingShipment = Schema.TaggedStruct("SchedulingShipment", { ...inStep, paymentId: Id })
/** Compensation of an abandoned ship step: undo a shipment that may have happened, then refund. */
export const RecallingShipment = Schema.TaggedStruct("RecallingShipment", { ...inStep, reason: Reason, paymentId: Id })
/**
 * Compensation; `paymentId` is absent when the capture itself went unanswered. `compensations`
 * (those already done, e.g. a recall) defaults to none for instances stored before it existed.
 */
export const RefundingPayment = Schema.TaggedStruct("RefundingPayment", {
  ...inStep, reason: Reason, paymentId: Schema.optional(Id),
  compensations: Schema.optionalWith(Schema.Array(Step), { default: () => [] })
})
export const ReleasingStock = Schema.TaggedStruct("ReleasingStock", { ...inStep, reason: Reason, compensations: Schema.Array(Step) })
export const Completed = Schema.TaggedStruct("Completed", { ...common, paymentId: Id, trackingId: Id })
export const Cancelled = Schema.TaggedStruct("Cancelled", { ...common, reason: Reason, compensations: Schema.Array(Step) })

export const OrderState = Schema.Union(
  ReservingStock, CapturingPayment, SchedulingShipment, RecallingShipment, RefundingPayment, ReleasingStock, Completed, Cancelled
)
export type OrderState = typeof OrderState.Type
export type OrderStateTag = OrderState["_tag"]

/** The step a state waits on, if any: also the name of its timeout timer. */
export const currentStep = (state: OrderState): Step | undefined => {
  switch (state._tag) {
    case "ReservingStock": return "reserve"
    case "CapturingPayment": return "capture"
    case "SchedulingShipment": return "ship"
    case "RecallingShipment": return "recall"
    case "RefundingPayment": return "refund"
    case "ReleasingStock": return "release"
    case "Completed":
    case "Cancelled": return undefined
  }
}

export const isTerminal = (state: OrderState): boolean => currentStep(state) === undefined
