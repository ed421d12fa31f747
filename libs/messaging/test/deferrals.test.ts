import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { makeDeferralCounter } from "../src/internal/deferrals.js"
import type { Delivery } from "../src/delivery.js"
import { fakeDelivery } from "./fake-delivery.js"

/** A delivery whose dispositions live on its prototype, as the NATS adapter's do. */
class ProtoDelivery {
  constructor(readonly deliveryCount: number, readonly broker: Array<string>) {}
  get ack() {
    return Effect.sync(() => void this.broker.push(`ack after ${this.deliveryCount}`))
  }
}

describe("deferral counter", () => {
  it("judges a message by its delivery count less the deferrals seen here, and forgets it once settled otherwise", () => {
    const counter = makeDeferralCounter()
    const d = fakeDelivery({}, { deliveryCount: 3, streamSequence: 7 })
    expect(counter.adjust(d)).toBe(d) // nothing deferred: the same object
    counter.record(d, "deferred")
    counter.record(d, "deferred")
    expect(counter.adjust(d).deliveryCount).toBe(1)
    counter.record(d, "acked")
    expect(counter.size()).toBe(0)
    expect(counter.adjust(d).deliveryCount).toBe(3)
  })

  it("keeps the delivery's methods and getters when it adjusts the count: the broker is still told through the original", async () => {
    const counter = makeDeferralCounter()
    const broker: Array<string> = []
    const proto = Object.assign(new ProtoDelivery(4, broker), { stream: "S", streamSequence: 1 }) as unknown as Delivery
    counter.record(proto, "deferred")
    const adjusted = counter.adjust(proto)
    expect(adjusted.deliveryCount).toBe(3)
    await Effect.runPromise(adjusted.ack)
    // The original delivery acks (its own count): only the policy judges by the adjusted one.
    expect(broker).toEqual(["ack after 4"])
    expect(adjusted.stream).toBe("S")
  })
})
