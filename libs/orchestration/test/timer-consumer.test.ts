// Timers fire once across orchestrator replicas: one durable on the timer bucket's stream, shared.
import { eventually } from "@conveyor/testing"
import { ensureTopology } from "@conveyor/nats"
import { useTestClient } from "@conveyor/nats/testing"
import { useNatsServer, uniqueName } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import type { PendingTimer } from "@conveyor/workflow"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { InstanceTimers, makeJsonBucket } from "../src/index.js"
import { runSharedTimerScheduler, timerConsumerOf } from "../src/internal/timer-consumer.js"
import { createBucket, entry, timer } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const setup = async () => {
  const name = uniqueName("stimers").toLowerCase()
  const timers = makeJsonBucket(conn.client, await createBucket(conn.client, name), name, InstanceTimers)
  await conn.runtime.runPromise(ensureTopology(defineTopology({ consumers: [{ ...timerConsumerOf(name, "timers"), ackWaitMs: 2_000, maxAckPending: -1 }] })))
  const fired: Array<PendingTimer> = []
  const replica = async () => {
    const scope = await Effect.runPromise(Scope.make())
    await Effect.runPromise(Scope.extend(runSharedTimerScheduler({
      client: conn.client, timers, durable: "timers", retryMs: 100, fire: (t) => Effect.sync(() => void fired.push(t))
    }), scope))
    return { stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  }
  const put = (t: PendingTimer) => Effect.runPromise(timers.put(t.workflowId, entry(t)))
  const keys = async () => {
    const found: Array<string> = []
    for await (const k of await timers.kv.keys()) found.push(k)
    return found
  }
  return { timers, fired, replica, put, keys }
}

describe("shared timer scheduler", () => {
  it("fires every timer exactly once with two replicas running, then deletes it", async () => {
    const { fired, replica, put, keys } = await setup()
    const now = Date.now()
    const all = Array.from({ length: 30 }, (_, i) => timer(`w${i}`, i < 10 ? now - 1_000 : now + 200 + 20 * i))
    for (const t of all.slice(0, 10)) await put(t)
    const replicas = [await replica(), await replica()]
    try {
      for (const t of all.slice(10)) await put(t)
      await eventually(() => fired.length >= all.length, 15_000, "every timer fired")
      await eventually(async () => (await keys()).length === 0, 10_000, "every timer deleted")
      // Nothing fires twice, however long we look.
      await new Promise((r) => setTimeout(r, 500))
      expect(fired.map((t) => t.timerId).sort()).toEqual(all.map((t) => t.timerId).sort())
      for (const t of fired) expect(Date.now()).toBeGreaterThanOrEqual(t.dueAt)
    } finally {
      for (const r of replicas) await r.stop()
    }
  })

  it("fires a timer set before its replica stopped on the next one started; deleted and re-armed timers fire as they are now", async () => {
    const { fired, replica, put, timers } = await setup()
    const first = await replica()
    const kept = timer("kept", Date.now() + 800)
    const cancelled = timer("cancelled", Date.now() + 800)
    const rearmed = timer("rearmed", Date.now() + 800)
    for (const t of [kept, cancelled, rearmed]) await put(t)
    // The first replica has them all held by the server, then stops before any is due.
    await first.stop()
    await Effect.runPromise(timers.remove(cancelled.workflowId))
    const later = { ...rearmed, dueAt: Date.now() + 1_500 }
    await put(later)
    await new Promise((r) => setTimeout(r, 1_000))
    const second = await replica()
    try {
      await eventually(() => fired.length >= 2, 15_000, "the kept and re-armed timers")
      await new Promise((r) => setTimeout(r, 500))
      expect(fired.map((t) => [t.timerId, t.dueAt])).toEqual([[kept.timerId, kept.dueAt], [later.timerId, later.dueAt]])
    } finally {
      await second.stop()
    }
  })

  it("fires each of an instance's timers at its own time, once, and deletes the entry after the last", async () => {
    const { fired, replica, timers, keys } = await setup()
    const first = timer("two", Date.now() + 300)
    const second = { ...first, name: "remind", timerId: "two:1:timer:remind", dueAt: Date.now() + 1_200 }
    await Effect.runPromise(timers.put("two", entry(first, second)))
    const replicas = [await replica(), await replica()]
    try {
      await eventually(() => fired.length >= 2, 15_000, "both timers")
      await eventually(async () => (await keys()).length === 0, 10_000, "the entry deleted")
      await new Promise((r) => setTimeout(r, 500))
      expect(fired.map((t) => t.timerId)).toEqual([first.timerId, second.timerId])
      for (const t of fired) expect(Date.now()).toBeGreaterThanOrEqual(t.dueAt)
    } finally {
      for (const r of replicas) await r.stop()
    }
  })
})
