import { Effect, Fiber } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { heartbeat } from "../src/internal/stages/heartbeat.js"
import { failed, type Outcome } from "../src/outcome.js"
import type { ProcessDelivery } from "../src/internal/stage.js"
import { fakeDelivery, processed } from "./fake-delivery.js"

/** A handler that works until the delivery got `n` heartbeats (bounded: a missing beat fails the test). */
const untilBeats = (d: ReturnType<typeof fakeDelivery>, n: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 20_000
    while (d.calls.filter((c) => c.op === "working").length < n) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`fewer than ${n} heartbeats within 20 s`))
      yield* Effect.sleep("20 millis")
    }
  })

const run = (step: ProcessDelivery) => (d: ReturnType<typeof fakeDelivery>) => Effect.runPromise(step(d))

describe("heartbeat", () => {
  it("signals working() while a handler runs past half the ack wait, and keeps its outcome", async () => {
    const d = fakeDelivery({})
    const outcome = await run(heartbeat({ ackWaitMs: 200 }).stage(() => Effect.as(untilBeats(d, 3), processed)))(d)
    expect(outcome).toEqual(processed)
    expect(d.calls.filter((c) => c.op === "working").length).toBeGreaterThanOrEqual(3)
    expect(d.calls.every((c) => c.op === "working")).toBe(true)
  })

  it("sends nothing for a handler that finishes quickly, and stops beating once it finished", async () => {
    const d = fakeDelivery({})
    await run(heartbeat({ ackWaitMs: 1_000 }).stage(() => Effect.succeed(processed)))(d)
    await new Promise((r) => setTimeout(r, 700))
    expect(d.calls).toEqual([])
  })

  it("beats for each of several deliveries in flight at once", async () => {
    const a = fakeDelivery({}, { messageId: "a" })
    const b = fakeDelivery({}, { messageId: "b" })
    const middleware = heartbeat({ ackWaitMs: 200 }).stage
    await Promise.all([run(middleware(() => Effect.as(untilBeats(a, 2), processed)))(a), run(middleware(() => Effect.as(untilBeats(b, 2), processed)))(b)])
    expect(a.calls.length).toBeGreaterThanOrEqual(2)
    expect(b.calls.length).toBeGreaterThanOrEqual(2)
  })

  it("fences a delivery that overran the ack wait without a signal: LostOwnership, whatever the outcome", async () => {
    let clock = 0
    const stalled = (outcome: Outcome): ProcessDelivery => () => Effect.sync(() => {
      clock += 5_000 // the event loop stalled: no heartbeat could go out
      return outcome
    })
    const middleware = heartbeat({ ackWaitMs: 1_000, now: () => clock }).stage
    for (const outcome of [processed, failed("retry", "Blip", "x"), failed("dead-letter", "Bad", "x")]) {
      const d = fakeDelivery({})
      expect(await run(middleware(stalled(outcome)))(d)).toEqual({ _tag: "LostOwnership" })
      expect(d.calls).toEqual([])
    }
  })

  it("does not fence a delivery within the ack wait", async () => {
    let clock = 0
    const step = heartbeat({ ackWaitMs: 1_000, now: () => clock }).stage(() => Effect.sync(() => ((clock += 900), processed)))
    expect(await run(step)(fakeDelivery({}))).toEqual(processed)
  })

  it("stops beating for deliveries in flight once stopped (the runner's workers were interrupted), and for one whose handling died", async () => {
    const interrupted = fakeDelivery({}, { messageId: "i" })
    const died = fakeDelivery({}, { messageId: "d" })
    const beats = heartbeat({ ackWaitMs: 200 })
    const middleware = beats.stage
    const fiber = Effect.runFork(middleware(() => Effect.as(Effect.never, processed))(interrupted))
    await new Promise((r) => setTimeout(r, 250))
    expect(interrupted.calls.length).toBeGreaterThanOrEqual(1) // beating while it ran
    await Effect.runPromise(Fiber.interrupt(fiber))
    beats.stop() // as the runner does once its workers ended
    await Effect.runPromise(Effect.exit(middleware(() => Effect.die("boom"))(died)))
    const beatsAfterStop = interrupted.calls.length
    await new Promise((r) => setTimeout(r, 400))
    expect(interrupted.calls.length).toBe(beatsAfterStop)
    expect(died.calls).toEqual([])
  })

  it("fences a handler function that blocked the event loop past the ack wait before returning its Effect", () => {
    let clock = 0
    const middleware = heartbeat({ ackWaitMs: 1_000, now: () => clock }).stage
    expect(Effect.runSync(middleware(() => Effect.succeed(processed))(fakeDelivery({})))).toEqual(processed)
    // A handler function that computed for 5 s before returning: no beat could go out meanwhile.
    const blocking = middleware(() => {
      clock += 5_000
      return Effect.succeed(processed)
    })(fakeDelivery({}))
    expect(Effect.runSync(blocking)).toEqual({ _tag: "LostOwnership" })
  })
})
