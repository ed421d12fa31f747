import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, FiberId } from "effect"
import type { Delivery } from "../src/delivery.js"
import type { DeliveryResult, HandleDelivery } from "../src/middleware.js"
import { oneAtATimePerKey } from "../src/middleware/one-per-key.js"
import { fakeDelivery, processed } from "./fake-delivery.js"

const result: DeliveryResult = { outcome: processed, settlement: "acked", instruction: { _tag: "Ack" } }

/**
 * Deliveries keyed by their payload's `key`, through the middleware to a `next` that records which
 * started and finishes each one only when the test says so.
 */
const harness = Effect.sync(() => {
  const started: Array<string> = []
  const finish = new Map<string, Deferred.Deferred<void>>()
  const next: HandleDelivery = (delivery) =>
    Effect.suspend(() => {
      started.push(delivery.messageId)
      const done = Deferred.unsafeMake<void>(FiberId.none)
      finish.set(delivery.messageId, done)
      return Effect.as(Deferred.await(done), result)
    })
  const handle = oneAtATimePerKey({ keyOf: (d) => (JSON.parse(new TextDecoder().decode(d.payload)) as { key?: string }).key, ackWaitMs: 200 })(next)
  const deliveries = new Map<string, Delivery & { calls: Array<unknown> }>()
  const arrive = (id: string, key: string | undefined) => {
    const delivery = fakeDelivery(key === undefined ? {} : { key }, { messageId: id })
    deliveries.set(id, delivery)
    return Effect.fork(handle(delivery))
  }
  const settle = (id: string) => Deferred.succeed(finish.get(id)!, undefined)
  return { started, arrive, settle, deliveries }
})

describe("oneAtATimePerKey", () => {
  it.live("handles one key's deliveries one at a time in arrival order, other keys beside them", () =>
    Effect.gen(function* () {
      const { started, arrive, settle } = yield* harness
      const a1 = yield* arrive("a1", "a")
      yield* arrive("a2", "a")
      yield* arrive("b1", "b")
      yield* arrive("a3", "a")
      yield* arrive("x1", undefined)
      yield* Effect.sleep("10 millis")
      expect(started).toEqual(["a1", "b1", "x1"])
      yield* settle("a1")
      expect(yield* Fiber.join(a1)).toBe(result)
      yield* Effect.sleep("10 millis")
      expect(started).toEqual(["a1", "b1", "x1", "a2"])
      yield* settle("a2")
      yield* Effect.sleep("10 millis")
      expect(started).toEqual(["a1", "b1", "x1", "a2", "a3"])
      yield* settle("a3")
      // The key is free again: the next one starts at once.
      yield* arrive("a4", "a")
      yield* Effect.sleep("10 millis")
      expect(started.at(-1)).toBe("a4")
    }))

  it.live("a delivery interrupted while waiting or while handled does not hold the key", () =>
    Effect.gen(function* () {
      const { started, arrive, settle } = yield* harness
      const a1 = yield* arrive("a1", "a")
      const a2 = yield* arrive("a2", "a")
      yield* arrive("a3", "a")
      yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(a2)
      yield* settle("a1")
      yield* Fiber.join(a1)
      yield* Effect.sleep("10 millis")
      expect(started).toEqual(["a1", "a3"])
      const a4 = yield* arrive("a4", "a")
      yield* arrive("a5", "a")
      yield* settle("a3")
      yield* Effect.sleep("10 millis")
      expect(started).toEqual(["a1", "a3", "a4"])
      yield* Fiber.interrupt(a4)
      yield* Effect.sleep("10 millis")
      expect(started).toEqual(["a1", "a3", "a4", "a5"])
    }))

  it.live("a delivery waiting for its turn keeps its message with working()", () =>
    Effect.gen(function* () {
      const { arrive, settle, deliveries } = yield* harness
      yield* arrive("a1", "a")
      yield* arrive("a2", "a")
      yield* Effect.sleep("250 millis") // two beats at half the 200 ms ack wait
      expect(deliveries.get("a2")!.calls.filter((c) => (c as { op: string }).op === "working").length).toBeGreaterThanOrEqual(2)
      expect(deliveries.get("a1")!.calls).toEqual([])
      yield* settle("a1")
      yield* Effect.sleep("10 millis")
      const beats = deliveries.get("a2")!.calls.length
      yield* Effect.sleep("250 millis")
      expect(deliveries.get("a2")!.calls.length).toBe(beats)
    }))
})
