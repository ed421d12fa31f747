// The engine starts a timer write only when the entry it last wrote does not already cover the
// instance's timers (`covers`): the same decision `sync` takes before writing, without a read.
import { useTestClient } from "@conveyor/nats/testing"
import { useNatsServer, uniqueName } from "@conveyor/testing/vitest"
import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { InstanceTimers, makeJsonBucket } from "../src/index.js"
import { makeTimerSync } from "../src/timer-sync.js"
import { createBucket, timer } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

describe("timer sync", () => {
  it("covers exactly what sync would not write: a later revision's entry, or one firing no later than the pending timers", async () => {
    const name = uniqueName("tsync").toLowerCase()
    const bucket = await createBucket(conn.client, name)
    const timers = makeJsonBucket(conn.client, bucket, name, InstanceTimers)
    const t0 = Date.now()
    const sync = makeTimerSync(timers, { maxConflicts: 5, capacity: 100, now: () => t0 })
    const first = timer("w1", t0 + 10_000)
    // Nothing written by this process yet: not covered (sync must look).
    expect(sync.covers("w1", 1, [first])).toBe(false)
    await Effect.runPromise(sync.sync("w1", "w1", 1, [first], undefined, true))
    const revisionAfterFirst = (await bucket.get("w1"))?.revision

    const later = { ...timer("w1", t0 + 20_000), timerId: "w1:2:timer:expire" }
    const earlier = { ...timer("w1", t0 + 5_000), timerId: "w1:3:timer:expire" }
    expect(sync.covers("w1", 1, [later])).toBe(true) // the entry holds this revision already
    expect(sync.covers("w1", 2, [later])).toBe(true) // fires in time: a stale firing re-arms it
    expect(sync.covers("w1", 2, [earlier])).toBe(false) // would fire too late
    expect(sync.covers("w1", 2, [])).toBe(false) // none pending: the entry must go

    // And sync agrees: a covered call writes nothing, an uncovered one writes.
    await Effect.runPromise(sync.sync("w1", "w1", 2, [later], undefined))
    expect((await bucket.get("w1"))?.revision).toBe(revisionAfterFirst)
    await Effect.runPromise(sync.sync("w1", "w1", 3, [earlier], undefined))
    expect((await bucket.get("w1"))?.revision).toBeGreaterThan(revisionAfterFirst!)
  })
})
