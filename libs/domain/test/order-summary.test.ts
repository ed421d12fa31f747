import { describe, expect, it } from "@effect/vitest"
import { ev, OrderRun } from "./order-run.js"
import { currentStep, isTerminal, summarizeOrder } from "../src/index.js"

describe("summarizeOrder", () => {
  it("reports a completed order with no retries", () => {
    const run = new OrderRun()
    for (const e of [ev.placed(), ev.reserved(), ev.captured(), ev.scheduled()]) run.send(e)
    expect(summarizeOrder(run.instance!)).toEqual({ orderId: "o-1", status: "completed", state: "Completed", retries: 0, compensations: [] })
  })

  it("counts retries and compensations along the way and at the end", () => {
    const run = new OrderRun()
    for (const e of [ev.placed(), ev.reserved(), ev.captured()]) run.send(e)
    expect(summarizeOrder(run.instance!)).toMatchObject({ status: "in-progress", state: "SchedulingShipment", compensations: [] })
    run.timeout()
    run.timeout()
    const reason = "no answer to ScheduleShipment after 2 attempts"
    expect(summarizeOrder(run.instance!)).toMatchObject({ status: "in-progress", state: "RecallingShipment", retries: 1, reason })
    run.send(ev.recalled())
    expect(summarizeOrder(run.instance!)).toMatchObject({ state: "RefundingPayment", compensations: ["recall"], reason })
    run.send(ev.refunded())
    expect(summarizeOrder(run.instance!)).toMatchObject({ state: "ReleasingStock", compensations: ["recall", "refund"], reason })
    run.timeout()
    run.send(ev.released())
    expect(summarizeOrder(run.instance!)).toEqual({
      orderId: "o-1", status: "cancelled", state: "Cancelled", retries: 2, compensations: ["recall", "refund", "release"], reason
    })
  })

  it("reports a cancellation with nothing undone", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    run.send(ev.rejected("gone"))
    expect(summarizeOrder(run.instance!)).toMatchObject({ status: "cancelled", compensations: [], reason: "stock rejected: gone" })
  })
})

describe("currentStep / isTerminal", () => {
  it("follow the order through its states", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    expect([currentStep(run.state), isTerminal(run.state)]).toEqual(["reserve", false])
    run.send(ev.reserved())
    expect(currentStep(run.state)).toBe("capture")
    run.send(ev.captured())
    expect(currentStep(run.state)).toBe("ship")
    run.send(ev.scheduled())
    expect([currentStep(run.state), isTerminal(run.state)]).toEqual([undefined, true])
  })
})
