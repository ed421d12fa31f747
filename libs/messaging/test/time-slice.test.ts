import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { makeTimeSlice } from "../src/internal/time-slice.js"

const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // computing
  }
}

describe("time slice", () => {
  it("is exhausted after its time of synchronous work, and starts afresh once the event loop had a turn", async () => {
    const slice = makeTimeSlice(10)
    expect(slice.exhausted()).toBe(false)
    busy(12)
    expect(slice.exhausted()).toBe(true)
    let timerRan = false
    setTimeout(() => (timerRan = true), 0)
    await Effect.runPromise(slice.nextTurn)
    expect(timerRan).toBe(true)
    expect(slice.exhausted()).toBe(false)
  })

  it("ends a stretch when control returns to the event loop, even without nextTurn", async () => {
    const slice = makeTimeSlice(10)
    slice.exhausted()
    busy(12)
    await new Promise((r) => setImmediate(r))
    expect(slice.exhausted()).toBe(false)
  })

  it("resumes every waiter with one timer", async () => {
    const slice = makeTimeSlice(10)
    const order: Array<string> = []
    await Promise.all(["a", "b", "c"].map((name) => Effect.runPromise(Effect.map(slice.nextTurn, () => order.push(name)))))
    expect(order.sort()).toEqual(["a", "b", "c"])
  })
})
