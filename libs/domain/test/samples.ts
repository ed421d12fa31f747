import type { OrderCommand, OrderEvent } from "../src/index.js"

/** One valid message of every type, for round trips and routing checks. */
const items = [{ sku: "apple", quantity: 2, unitPriceCents: 150 }]
export const sampleEvents: ReadonlyArray<OrderEvent> = [
  { type: "OrderPlaced", version: 1, orderId: "o-1", customerId: "c-1", items, totalCents: 300, placedAt: "2026-01-01T00:00:00Z" },
  { type: "StockReserved", version: 1, orderId: "o-1" },
  { type: "StockRejected", version: 1, orderId: "o-1", reason: "none left" },
  { type: "PaymentCaptured", version: 1, orderId: "o-1", paymentId: "p-1", amountCents: 300 },
  { type: "PaymentDeclined", version: 1, orderId: "o-1", reason: "card expired" },
  { type: "ShipmentScheduled", version: 1, orderId: "o-1", trackingId: "t-1" },
  { type: "ShipmentRecalled", version: 1, orderId: "o-1", trackingId: "t-1" },
  { type: "StockReleased", version: 1, orderId: "o-1" },
  { type: "PaymentRefunded", version: 1, orderId: "o-1", amountCents: 300, paymentId: "p-1" },
  { type: "OrderCompleted", version: 1, orderId: "o-1", paymentId: "p-1", trackingId: "t-1" },
  { type: "OrderCancelled", version: 1, orderId: "o-1", reason: "payment declined", compensations: ["release"] },
  { type: "StepTimedOut", version: 1, orderId: "o-1", step: "capture", attempt: 2, timerId: "o-1:3:timer:capture" }
]
export const sampleCommands: ReadonlyArray<OrderCommand> = [
  { type: "ReserveStock", version: 1, orderId: "o-1", attempt: 1, items },
  { type: "ReleaseStock", version: 1, orderId: "o-1", attempt: 1, items },
  { type: "CapturePayment", version: 1, orderId: "o-1", attempt: 2, customerId: "c-1", amountCents: 300 },
  { type: "RefundPayment", version: 1, orderId: "o-1", attempt: 1, amountCents: 300 },
  { type: "ScheduleShipment", version: 1, orderId: "o-1", attempt: 3, customerId: "c-1", items },
  { type: "RecallShipment", version: 1, orderId: "o-1", attempt: 1 }
]
