import { describe, expect, it } from "@effect/vitest"
import { recall, schedule, trackingIdOf } from "../src/shipping.js"

describe("shipments (pure)", () => {
  it("books once per order; a repeat finds the same shipment", () => {
    const first = schedule(undefined, "o-1")
    expect(first).toEqual({ next: { status: "scheduled", trackingId: trackingIdOf("o-1") }, result: { status: "scheduled", trackingId: trackingIdOf("o-1") } })
    expect(schedule(first.next, "o-1")).toEqual({ result: first.next })
  })

  it("a recall cancels a booked shipment, and an attempt after it books nothing", () => {
    const booked = schedule(undefined, "o-1").next
    const recalled = recall(booked)
    expect(recalled.next).toEqual({ status: "recalled", trackingId: trackingIdOf("o-1") })
    expect(schedule(recalled.next, "o-1")).toEqual({ result: recalled.next })
  })

  it("a recall with nothing booked leaves a tombstone that refuses a later attempt; a repeat changes nothing", () => {
    const tombstone = recall(undefined)
    expect(tombstone.next).toEqual({ status: "recalled" })
    expect(schedule(tombstone.next, "o-1")).toEqual({ result: { status: "recalled" } })
    expect(recall(tombstone.next)).toEqual({ result: { status: "recalled" } })
  })
})
