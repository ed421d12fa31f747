import { describe, expect, it } from "@effect/vitest"
import { consumer } from "../src/index.js"

describe("consumer", () => {
  it("declares a consumer inline in the plain form and fills the defaults", () => {
    expect(consumer({ stream: "ORDER_EVENTS", durable: "mailer", filterSubjects: ["orders.events.order-completed"] })).toEqual({
      stream: "ORDER_EVENTS", durable: "mailer", filterSubjects: ["orders.events.order-completed"],
      ackWaitMs: 30_000, maxDeliver: -1, maxAckPending: 1_000, deliverPolicy: "all"
    })
  })

  it("refuses a bad declaration with the field named", () => {
    expect(() => consumer({ stream: "ORDER_EVENTS", durable: "a.b" })).toThrow(/durable/)
  })
})
