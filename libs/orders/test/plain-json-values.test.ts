import { OrderPlaced } from "@conveyor/domain"
import { InstanceTimers, plainJson } from "@conveyor/orchestration"
import { Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { KeyRecord, OrderRecord } from "../src/gateway.js"
import { LedgerEntry, Reservation, Shipment, SkuStock } from "../src/index.js"

// The stores write their values with `plainJson` (no Schema walk per write): only right while each
// value's Schema encodes it to itself. A transformation added to one of these schemas fails here.
const placed = OrderPlaced.make({ orderId: "o-1", customerId: "c-1", items: [{ sku: "s", quantity: 2, unitPriceCents: 150 }], totalCents: 300, placedAt: "2026-12-03T12:00:00Z" })
const cases: ReadonlyArray<readonly [string, Schema.Schema<any, any>, ReadonlyArray<unknown>]> = [
  ["SkuStock", SkuStock, [{ available: 3, held: { "o-1": 2 }, closed: ["o-0"], by: { "o-1": "k1" }, dropped: 2 }, { available: 0, held: {}, closed: [], by: {}, dropped: 0 }]],
  ["Reservation", Reservation, [
    { _tag: "Held", lines: [{ sku: "s", quantity: 2, by: "k1" }] }, { _tag: "Rejected", reason: "r" }, { _tag: "Releasing", lines: [] }, { _tag: "Released" }
  ]],
  ["LedgerEntry", LedgerEntry, [{ status: "captured", paymentId: "p", capturedCents: 300, refundedCents: 0 }, { status: "refunded", capturedCents: 0, refundedCents: 0, reason: "r" }]],
  ["Shipment", Shipment, [{ status: "scheduled", trackingId: "t" }, { status: "recalled" }]],
  ["KeyRecord", KeyRecord, [{ orderId: "o-1", fingerprint: "f", event: placed }]],
  ["OrderRecord", OrderRecord, [{ fingerprint: "f", event: placed, accepted: false }]],
  ["InstanceTimers", InstanceTimers, [{ workflowId: "o-1", revision: 3, timers: [{ workflowId: "o-1", name: "reserve", timerId: "o-1:1:timer:reserve", dueAt: 5, attempt: 1 }] }]]
]

describe("values written as plain JSON", () => {
  it.each(cases)("%s: plainJson writes what the Schema's encoding would", (_, schema, values) => {
    for (const value of values) expect(plainJson(value)).toBe(JSON.stringify(Schema.encodeSync(schema)(value)))
  })
})
