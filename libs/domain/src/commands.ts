import { Schema } from "effect"
import { versioned } from "./message.js"
import { Attempt, Cents, CustomerId, Id, LineItems, OrderId } from "./primitives.js"

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
