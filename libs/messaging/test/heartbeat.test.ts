import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { heartbeat } from "../src/middleware/heartbeat.js"
import { failed, type Outcome, type Step } from "../src/step.js"
import { fakeDelivery, processed } from "./fake-delivery.js"

const run = (step: Step) => (d: ReturnType<typeof fakeDelivery>) => Effect.runPromise(step(d))

describe("heartbeat", () => {
  it("signals working() while a handler runs past half the ack wait, and keeps its outcome", async () => {
    const d = fakeDelivery({})
    const step = heartbeat({ ackWaitMs: 200 })(() => Effect.as(Effect.sleep("550 millis"), processed))
    const outcome = await run(step)(d)
    expect(outcome).toEqual(processed)
    // Beats at most 1.25 intervals (125 ms) apart over 550 ms: at least three.
    expect(d.calls.filter((c) => c.op === "working").length).toBeGreaterThanOrEqual(3)
    expect(d.calls.every((c) => c.op === "working")).toBe(true)
  })

  it("sends nothing for a handler that finishes quickly, and stops beating once it finished", async () => {
    const d = fakeDelivery({})
    await run(heartbeat({ ackWaitMs: 1_000 })(() => Effect.succeed(processed)))(d)
    await new Promise((r) => setTimeout(r, 700))
    expect(d.calls).toEqual([])
  })

  it("beats for each of several deliveries in flight at once", async () => {
    const a = fakeDelivery({}, { messageId: "a" })
    const b = fakeDelivery({}, { messageId: "b" })
    const step = heartbeat({ ackWaitMs: 200 })(() => Effect.as(Effect.sleep("400 millis"), processed))
    await Promise.all([run(step)(a), run(step)(b)])
    expect(a.calls.length).toBeGreaterThanOrEqual(2)
    expect(b.calls.length).toBeGreaterThanOrEqual(2)
  })

  it("fences a delivery that overran the ack wait without a signal: LostOwnership, whatever the outcome", async () => {
    let clock = 0
    const stalled = (outcome: Outcome): Step => () => Effect.sync(() => {
      clock += 5_000 // the event loop stalled: no heartbeat could go out
      return outcome
    })
    const middleware = heartbeat({ ackWaitMs: 1_000, now: () => clock })
    for (const outcome of [processed, failed("retry", "Blip", "x"), failed("dead-letter", "Bad", "x")]) {
      const d = fakeDelivery({})
      expect(await run(middleware(stalled(outcome)))(d)).toEqual({ _tag: "LostOwnership" })
      expect(d.calls).toEqual([])
    }
  })

  it("does not fence a delivery within the ack wait", async () => {
    let clock = 0
    const step = heartbeat({ ackWaitMs: 1_000, now: () => clock })(() => Effect.sync(() => ((clock += 900), processed)))
    expect(await run(step)(fakeDelivery({}))).toEqual(processed)
  })
})
