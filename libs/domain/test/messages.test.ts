import { Either, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { CapturePayment, OrderPlaced, PaymentRefunded, RefundPayment, StockRejected, itemsTotalCents } from "../src/index.js"

const valid = {
  type: "OrderPlaced", version: 1, orderId: "o-1", customerId: "c-1",
  items: [{ sku: "apple", quantity: 2, unitPriceCents: 150 }, { sku: "pear", quantity: 1, unitPriceCents: 99 }],
  totalCents: 399, placedAt: "2026-01-01T12:00:00.000Z"
}
const decode = Schema.decodeUnknownEither(OrderPlaced, { errors: "all" })
const failsOn = (input: unknown, fragment: RegExp) => {
  const r = decode(input)
  expect(Either.isLeft(r)).toBe(true)
  if (Either.isLeft(r)) expect(r.left.message).toMatch(fragment)
}

describe("message constructors", () => {
  it("fill type and version", () => {
    const { type: _t, version: _v, ...fields } = valid
    expect(OrderPlaced.make(fields)).toEqual(valid)
    expect(StockRejected.make({ orderId: "o-1", reason: "none left" })).toEqual({ type: "StockRejected", version: 1, orderId: "o-1", reason: "none left" })
    expect(CapturePayment.make({ orderId: "o-1", attempt: 1, customerId: "c", amountCents: 5 }).type).toBe("CapturePayment")
  })

  it("leave optional fields out rather than undefined", () => {
    expect(RefundPayment.make({ orderId: "o", attempt: 1, amountCents: 0 })).not.toHaveProperty("paymentId")
    expect(Schema.decodeUnknownSync(PaymentRefunded)({ type: "PaymentRefunded", version: 1, orderId: "o", amountCents: 0 })).not.toHaveProperty("paymentId")
  })

  it("validate on construction, including OrderPlaced's total rule, unless told not to", () => {
    const { type: _t, version: _v, ...fields } = valid
    expect(() => OrderPlaced.make({ ...fields, totalCents: 1 })).toThrow(/sum of the items/)
    expect(OrderPlaced.make({ ...fields, totalCents: 1 }, { disableValidation: true }).totalCents).toBe(1)
    expect(() => StockRejected.make({ orderId: "o.1", reason: "x" })).toThrow(/orderId/)
  })
})

describe("OrderPlaced validation", () => {
  it("accepts a valid order", () => expect(Either.isRight(decode(valid))).toBe(true))
  it("requires at least one item", () => failsOn({ ...valid, items: [], totalCents: 0 }, /at least one item/))
  it("requires positive integer quantities", () => {
    failsOn({ ...valid, items: [{ sku: "a", quantity: 0, unitPriceCents: 1 }], totalCents: 0 }, /quantity/)
    failsOn({ ...valid, items: [{ sku: "a", quantity: 1.5, unitPriceCents: 2 }], totalCents: 3 }, /quantity/)
  })
  it("requires integer, non-negative cents", () => {
    failsOn({ ...valid, items: [{ sku: "a", quantity: 1, unitPriceCents: 1.5 }], totalCents: 1.5 }, /unitPriceCents/)
    failsOn({ ...valid, items: [{ sku: "a", quantity: 1, unitPriceCents: -1 }], totalCents: -1 }, /unitPriceCents/)
  })
  it("requires the total to equal the sum of the items", () => failsOn({ ...valid, totalCents: 400 }, /totalCents.*sum of the items \(399\)/s))
  it("rejects a duplicate sku", () =>
    failsOn({ ...valid, items: [valid.items[0], valid.items[0]], totalCents: 600 }, /duplicate sku apple/))
  it("rejects ids unsafe for subjects and keys", () => {
    for (const orderId of ["", "a.b", "a b", "a:b", "x".repeat(65), "a*", "a>"]) failsOn({ ...valid, orderId }, /orderId/)
  })
  it("requires an ISO timestamp with a zone", () => {
    failsOn({ ...valid, placedAt: "yesterday" }, /placedAt/)
    failsOn({ ...valid, placedAt: "2026-01-01T12:00:00" }, /placedAt/)
    failsOn({ ...valid, placedAt: "2026-13-45T12:00:00Z" }, /placedAt/)
    expect(Either.isRight(decode({ ...valid, placedAt: "2026-01-01T12:00:00+02:00" }))).toBe(true)
  })
  it("sums items", () => expect(itemsTotalCents(valid.items)).toBe(399))
})
