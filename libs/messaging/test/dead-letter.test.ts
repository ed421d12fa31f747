import { describe, expect, it } from "@effect/vitest"
import { DeadLetterHeaders, deadLetterHeaders } from "../src/dead-letter.js"
import { fakeDelivery } from "./fake-delivery.js"

describe("deadLetterHeaders", () => {
  const delivery = fakeDelivery(
    {},
    {
      messageId: "order-7",
      deliveryCount: 3,
      headers: {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "X-Tenant": "acme",
        "Nats-Msg-Id": "order-7",
        "Nats-Expected-Stream": "ORDERS",
        "Nats-Expected-Last-Sequence": "41"
      }
    }
  )
  const headers = deadLetterHeaders(
    { delivery, reason: "attempts-exhausted", error: { tag: "WarehouseDown", message: "line one\nline two\r\n" + "x".repeat(5_000) } },
    new Date("2026-01-02T03:04:05.000Z")
  )

  it("carries the whole envelope beside the original headers", () => {
    expect(headers).toMatchObject({
      [DeadLetterHeaders.errorTag]: "WarehouseDown",
      [DeadLetterHeaders.reason]: "attempts-exhausted",
      [DeadLetterHeaders.attempts]: "3",
      [DeadLetterHeaders.originalSubject]: "orders.placed",
      [DeadLetterHeaders.originalStream]: "ORDERS",
      [DeadLetterHeaders.originalSequence]: "42",
      [DeadLetterHeaders.originalMessageId]: "order-7",
      [DeadLetterHeaders.consumer]: "worker",
      [DeadLetterHeaders.deadLetteredAt]: "2026-01-02T03:04:05.000Z",
      [DeadLetterHeaders.originalTraceparent]: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "X-Tenant": "acme"
    })
  })

  it("keeps header values on one bounded line", () => {
    const message = headers[DeadLetterHeaders.errorMessage]!
    expect(message).not.toMatch(/[\r\n]/)
    expect(message.startsWith("line one line two ")).toBe(true)
    expect(message.length).toBeLessThanOrEqual(1_024)
  })

  it("leaves the server's own headers behind, so the dead-letter stream accepts the copy", () => {
    expect(Object.keys(headers).filter((k) => k.toLowerCase().startsWith("nats-"))).toEqual([])
  })
})
