import { Chunk, Effect, Fiber } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { makeHandoff } from "../src/internal/handoff.js"

describe("hand-off buffer", () => {
  it("the feeder waits in offer until the workers took every item; polls come in order", async () => {
    const buffer = makeHandoff<number>()
    const offering = Effect.runFork(buffer.offer(Chunk.make(1, 2, 3)))
    await new Promise((r) => setTimeout(r, 10))
    expect(offering.unsafePoll()).toBeNull() // nothing taken yet
    expect([buffer.poll(), buffer.poll()]).toEqual([1, 2])
    expect(offering.unsafePoll()).toBeNull() // one still waiting
    expect(buffer.poll()).toBe(3)
    await Effect.runPromise(Fiber.join(offering))
    expect(buffer.poll()).toBeUndefined()
  })

  it("wakes parked workers for what the first one left, and ends them all once drained", async () => {
    const buffer = makeHandoff<number>()
    const taken: Array<[number, number]> = []
    // Each worker takes one item, then suspends (as a handler doing I/O would) before the next.
    const worker = (id: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const item = buffer.poll()
        if (item !== undefined) {
          taken.push([id, item])
          return Effect.zipRight(Effect.sleep("5 millis"), worker(id))
        }
        return buffer.ended() ? Effect.void : Effect.zipRight(buffer.waitForWork, worker(id))
      })
    const workers = [1, 2, 3].map((id) => Effect.runFork(worker(id)))
    await new Promise((r) => setTimeout(r, 10)) // all parked
    await Effect.runPromise(buffer.offer(Chunk.make(10, 11, 12)))
    buffer.end()
    await Effect.runPromise(Fiber.joinAll(workers))
    expect(taken.map(([, item]) => item).sort()).toEqual([10, 11, 12])
    expect(new Set(taken.map(([id]) => id)).size).toBe(3) // spread over the parked workers, not one
  })
})
