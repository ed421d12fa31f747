import { describe, expect, it } from "@effect/vitest"
import { sampleCommands, sampleEvents } from "./samples.js"
import {
  commandSubject, deadLetterSubject, eventSubject, subjectMatches, workerSubject
} from "../src/index.js"

describe("subjects", () => {
  it("put events under orders.events.<type-kebab>", () => {
    expect(sampleEvents.map(eventSubject)).toEqual([
      "orders.events.order-placed", "orders.events.stock-reserved", "orders.events.stock-rejected",
      "orders.events.payment-captured", "orders.events.payment-declined", "orders.events.shipment-scheduled",
      "orders.events.shipment-recalled", "orders.events.stock-released", "orders.events.payment-refunded", "orders.events.order-completed",
      "orders.events.order-cancelled", "orders.events.step-timed-out"
    ])
    expect(eventSubject("OrderPlaced")).toBe("orders.events.order-placed")
  })

  it("put commands under orders.commands.<worker>.<action>", () => {
    expect(sampleCommands.map(commandSubject)).toEqual([
      "orders.commands.inventory.reserve", "orders.commands.inventory.release", "orders.commands.payments.capture",
      "orders.commands.payments.refund", "orders.commands.shipping.schedule",
      "orders.commands.shipping.recall"
    ])
    expect(commandSubject("RefundPayment")).toBe("orders.commands.payments.refund")
  })

  it("give each worker one filter subject covering exactly its commands", () => {
    for (const c of sampleCommands) {
      const owners = (["inventory", "payments", "shipping"] as const).filter((w) => subjectMatches(workerSubject(w), commandSubject(c)))
      expect(owners).toHaveLength(1)
    }
  })

  it("put dead letters under dlq.<stream>.<consumer>", () => {
    expect(deadLetterSubject("ORDER_COMMANDS", "inventory-worker")).toBe("dlq.ORDER_COMMANDS.inventory-worker")
  })
})

describe("subjectMatches", () => {
  it.each([
    ["orders.>", "orders.events.x", true],
    ["orders.>", "orders", false],
    ["orders.*.x", "orders.events.x", true],
    ["orders.*", "orders.events.x", false],
    ["orders.events.x", "orders.events.x", true],
    ["orders.events.x", "orders.events", false],
    ["orders.events", "orders.events.x", false],
    [">", "a", true]
  ])("%s ~ %s = %s", (pattern, subject, expected) => expect(subjectMatches(pattern, subject)).toBe(expected))
})
