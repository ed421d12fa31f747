import { eventually } from "@conveyor/testing"
import { useTestClient } from "@conveyor/nats/testing"
import { useNatsServer, uniqueName } from "@conveyor/testing/vitest"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { InstanceTimers, makeJsonBucket } from "../src/index.js"
import { runTimerScheduler } from "../src/timers.js"
import { createBucket, entry, timer } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

describe("timer scheduler", () => {
  it("fires timers stored before it started (a restarted orchestrator loses none), then deletes them", async () => {
    const name = uniqueName("timers").toLowerCase()
    const timers = makeJsonBucket(conn.client, await createBucket(conn.client, name), name, InstanceTimers)
    const due = timer("past", Date.now() - 1_000)
    const later = timer("future", Date.now() + 60_000)
    await Effect.runPromise(timers.put(due.workflowId, entry(due)))
    await Effect.runPromise(timers.put(later.workflowId, entry(later)))
    const fired: Array<string> = []
    const scope = await Effect.runPromise(Scope.make())
    try {
      const scheduler = await Effect.runPromise(
        Scope.extend(runTimerScheduler({ timers, pollMs: 20, fire: (t) => Effect.sync(() => void fired.push(t.timerId)) }), scope)
      )
      await eventually(() => fired.length === 1, 10_000, "the due timer to fire")
      const soon = timer("soon", Date.now() + 300)
      await Effect.runPromise(timers.put(soon.workflowId, entry(soon)))
      await eventually(() => fired.length === 2, 10_000, "a timer set while running to fire")
      expect(fired).toEqual([due.timerId, soon.timerId])
      await eventually(async () => (await Effect.runPromise(timers.get(due.workflowId))) === undefined, 5_000, "deletion")
      expect(await Effect.runPromise(scheduler.pending)).toBe(1)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("keeps a timer whose firing failed and fires it on the next tick", async () => {
    const name = uniqueName("timers").toLowerCase()
    const timers = makeJsonBucket(conn.client, await createBucket(conn.client, name), name, InstanceTimers)
    const due = timer("flaky", Date.now() - 1)
    await Effect.runPromise(timers.put(due.workflowId, entry(due)))
    let calls = 0
    const scope = await Effect.runPromise(Scope.make())
    try {
      await Effect.runPromise(Scope.extend(runTimerScheduler({
        timers, pollMs: 20, fire: () => (++calls === 1 ? Effect.fail("broker hiccup") : Effect.void)
      }), scope))
      await eventually(async () => calls >= 2 && (await Effect.runPromise(timers.get(due.workflowId))) === undefined, 10_000, "second firing")
      expect(calls).toBe(2)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("a timer re-armed under the same key while its old value fires is kept and fires too", async () => {
    const name = uniqueName("timers").toLowerCase()
    const timers = makeJsonBucket(conn.client, await createBucket(conn.client, name), name, InstanceTimers)
    const old = timer("rearmed", Date.now() - 1)
    const rearmed = { ...old, dueAt: Date.now() + 200 }
    await Effect.runPromise(timers.put(old.workflowId, entry(old)))
    const fired: Array<number> = []
    const scope = await Effect.runPromise(Scope.make())
    try {
      await Effect.runPromise(Scope.extend(runTimerScheduler({
        timers, pollMs: 20,
        // While the old value is being fired, the same key is written again (its transition re-applied).
        fire: (t) => (fired.length === 0 ? timers.put(t.workflowId, entry(rearmed)) : Effect.void).pipe(Effect.tap(() => void fired.push(t.dueAt)))
      }), scope))
      await eventually(() => fired.length === 2, 10_000, "the re-armed value to fire")
      expect(fired).toEqual([old.dueAt, rearmed.dueAt])
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
