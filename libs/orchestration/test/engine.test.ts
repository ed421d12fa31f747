import { eventually } from "@conveyor/testing"
import { derivedMessageId, PublishFailed } from "@conveyor/messaging"
import { makeJetStreamPublisher } from "@conveyor/nats"
import { useTestClient } from "@conveyor/nats/testing"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { firingId, instanceSchema, type PendingTimer } from "@conveyor/workflow"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { InstanceTimers, KvUnavailable, makeJsonBucket } from "../src/index.js"
import { makeWorkflowEngine } from "../src/internal/engine.js"
import { runTimerScheduler } from "../src/timers.js"
import { counterWorkflow, gateWorkflow } from "./counter-workflow.js"
import { createBucket, subjectsUnder } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const setup = async () => {
  const name = uniqueName("ctr").toLowerCase()
  const stream = name.toUpperCase()
  await conn.client.jsm.streams.add({ name: stream, subjects: [`${name}.>`] })
  const instances = makeJsonBucket(conn.client, await createBucket(conn.client, `${name}-wf`), `${name}-wf`, instanceSchema(counterWorkflow))
  const timers = makeJsonBucket(conn.client, await createBucket(conn.client, `${name}-timers`), `${name}-timers`, InstanceTimers)
  let conflicts = 0
  const engine = (publisher = makeJetStreamPublisher(conn.client)) =>
    makeWorkflowEngine({
      definition: counterWorkflow,
      instances,
      timers,
      publisher,
      ...subjectsUnder(name),
      maxConflicts: 1_000,
      onConflict: () => void conflicts++
    })
  return { stream, instances, timers, engine, conflicts: () => conflicts }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe("workflow engine on KV", () => {
  it("two orchestrators racing on one instance lose no update (compare-and-set, re-read, re-apply)", async () => {
    const t = await setup()
    const [a, b] = [t.engine(), t.engine()]
    await run(a.handle({ type: "Start", id: "o1" }, "start-1"))
    const incs = Array.from({ length: 24 }, (_, i) => i)
    await Promise.all(incs.map((i) => run((i % 2 === 0 ? a : b).handle({ type: "Inc", id: "o1" }, `inc-${i}`))))
    const stored = (await run(t.instances.get("o1")))!
    expect(stored.value.state.n).toBe(24)
    expect(stored.value.transitions).toBe(25)
    expect(new Set(stored.value.history.map((h) => h.causationId))).toEqual(new Set(["start-1", ...incs.map((i) => `inc-${i}`)]))
    // Concurrent handling of one key must have collided at least once, or the test proved nothing.
    expect(t.conflicts()).toBeGreaterThan(0)
    // Every transition's command went out exactly once under its deterministic id; the outbox keeps
    // at most the last transition's (published) messages until the next write.
    expect(stored.value.outbox.length).toBeLessThanOrEqual(1)
    const info = await conn.client.jsm.streams.info(t.stream)
    expect(info.state.messages).toBe(24)
  })

  it("an engine does not read back an instance it wrote, nor re-publish commands it saw acked; another writer in between is caught by compare-and-set", async () => {
    const t = await setup()
    let reads = 0
    const counted = { ...t.instances, get: (key: string) => Effect.suspend(() => (reads++, t.instances.get(key))) }
    let published = 0
    const real = makeJetStreamPublisher(conn.client)
    const counting: typeof real = { ...real, publishAll: (messages, o) => Effect.suspend(() => ((published += [...messages].length), real.publishAll(messages, o))) }
    const options = { definition: counterWorkflow, timers: t.timers, ...subjectsUnder(t.stream.toLowerCase()), maxConflicts: 1_000 }
    const a = makeWorkflowEngine({ ...options, instances: counted, publisher: counting })
    const b = makeWorkflowEngine({ ...options, instances: t.instances, publisher: real })
    await run(a.handle({ type: "Start", id: "c1" }, "start"))
    for (let i = 0; i < 3; i++) await run(a.handle({ type: "Inc", id: "c1" }, `a-${i}`))
    // No read: Start starts instances, so it creates without reading; each Inc's Note published once, none again.
    expect(reads).toBe(0)
    expect(published).toBe(3)
    // Another orchestrator advances the instance: a's cached revision is stale now.
    await run(b.handle({ type: "Inc", id: "c1" }, "b-0"))
    const after = await run(a.handle({ type: "Inc", id: "c1" }, "a-3"))
    expect(after._tag).toBe("Advanced")
    expect(reads).toBe(1)
    const stored = (await run(t.instances.get("c1")))!
    expect(stored.value.state.n).toBe(5)
    expect(stored.value.history.map((h) => h.causationId)).toEqual(["start", "a-0", "a-1", "a-2", "b-0", "a-3"])
    // A redelivery of an event a applied is answered from the stored instance, not the cache.
    expect((await run(a.handle({ type: "Inc", id: "c1" }, "a-3")))._tag).toBe("Redelivered")
    expect(reads).toBe(2)
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(5)
  })

  it("a start event for an instance that exists (a duplicate, a redelivery) is read and decided on the stored instance", async () => {
    const t = await setup()
    await run(t.engine().handle({ type: "Start", id: "d1" }, "start"))
    await run(t.engine().handle({ type: "Inc", id: "d1" }, "i1"))
    // Fresh engines (another replica, a restart): nothing cached, so Start is first taken to be new.
    expect((await run(t.engine().handle({ type: "Start", id: "d1" }, "start")))._tag).toBe("Redelivered")
    expect(await run(t.engine().handle({ type: "Start", id: "d1" }, "start-again"))).toMatchObject({ _tag: "Ignored", reason: "already started" })
    const stored = (await run(t.instances.get("d1")))!.value
    expect(stored).toMatchObject({ transitions: 2, state: { n: 1 } })
    expect(t.conflicts()).toBe(0)
  })

  it("another engine re-publishes a leftover outbox unless the event it handles was produced from it (a worker's answer)", async () => {
    const t = await setup()
    const real = makeJetStreamPublisher(conn.client)
    let published: Array<string> = []
    const counting: typeof real = { ...real, publishAll: (messages, o) => Effect.suspend(() => (published.push(...[...messages].map((m) => m.msgId!)), real.publishAll(messages, o))) }
    await run(t.engine().handle({ type: "Start", id: "r1" }, "start"))
    await run(t.engine().handle({ type: "Inc", id: "r1" }, "i1"))
    const [note] = (await run(t.instances.get("r1")))!.value.outbox.map((o) => o.id)
    // A fresh engine (another replica) has no record of that Note's PubAck, but an answer to it proves it went out.
    await run(t.engine(counting).handle({ type: "Inc", id: "r1" }, derivedMessageId(note!, 0)))
    expect(published).not.toContain(note)
    expect(published).toHaveLength(1)
    // An event that proves nothing: the leftover Note is published again (a duplicate, dropped by the stream).
    const [second] = (await run(t.instances.get("r1")))!.value.outbox.map((o) => o.id)
    published = []
    await run(t.engine(counting).handle({ type: "Inc", id: "r1" }, "unrelated"))
    expect(published[0]).toBe(second)
    expect(published).toHaveLength(2)
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(3)
  })

  it("a decision that writes nothing is made on the stored instance, not on a cached one another orchestrator has advanced", async () => {
    const t = await setup()
    const name = uniqueName("gate").toLowerCase()
    const instances = makeJsonBucket(conn.client, await createBucket(conn.client, `${name}-wf`), `${name}-wf`, instanceSchema(gateWorkflow))
    const options = { definition: gateWorkflow, instances, timers: t.timers, publisher: makeJetStreamPublisher(conn.client), ...subjectsUnder(t.stream.toLowerCase()) }
    const [a, b] = [makeWorkflowEngine(options), makeWorkflowEngine(options)]
    await run(a.handle({ type: "Create", id: "g1" }, "create"))
    // b opens the gate; a still holds the instance it created (closed) in its cache.
    await run(b.handle({ type: "Open", id: "g1" }, "open"))
    // Passing a closed gate is illegal: judged on a's stale copy, the event would be dead-lettered.
    const passed = await run(a.handle({ type: "Pass", id: "g1" }, "pass"))
    expect(passed._tag).toBe("Advanced")
    expect((await run(instances.get("g1")))!.value.state._tag).toBe("Passed")
  })

  it("a redelivered event is recognised and only re-publishes; an illegal one fails with the reason", async () => {
    const t = await setup()
    const engine = t.engine()
    await run(engine.handle({ type: "Start", id: "o2" }, "s"))
    const first = await run(engine.handle({ type: "Inc", id: "o2" }, "m1"))
    const again = await run(engine.handle({ type: "Inc", id: "o2" }, "m1"))
    expect(first._tag).toBe("Advanced")
    expect(again._tag).toBe("Redelivered")
    expect((await run(t.instances.get("o2")))!.value.state.n).toBe(1)
    const illegal = await Effect.runPromiseExit(engine.handle({ type: "Bogus", id: "o2" }, "m2"))
    expect(Exit.isFailure(illegal) && JSON.stringify(illegal.cause)).toContain("bogus is never allowed")
    const orphan = await Effect.runPromiseExit(engine.handle({ type: "Inc", id: "nobody" }, "m3"))
    expect(Exit.isFailure(orphan) && JSON.stringify(orphan.cause)).toContain("only Start starts")
  })

  it("a crash between storing and publishing loses no command: the next event publishes the outbox first", async () => {
    const t = await setup()
    const real = makeJetStreamPublisher(conn.client)
    const down: typeof real = { ...real, publishAll: () => Effect.fail(new PublishFailed({ subject: "x", reason: "broker away", retryable: true })) }
    await run(t.engine().handle({ type: "Start", id: "o4" }, "s"))
    const failed = await Effect.runPromiseExit(t.engine(down).handle({ type: "Inc", id: "o4" }, "m1"))
    expect(Exit.isFailure(failed)).toBe(true)
    expect((await run(t.instances.get("o4")))!.value.outbox.map((o) => o.message.n)).toEqual([1])
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(0)
    // Not the redelivery but another event comes first: the stranded Note goes out before it is dropped.
    await run(t.engine().handle({ type: "Inc", id: "o4" }, "m2"))
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(2)
    // The redelivery of m1 is recognised; its re-publish is de-duplicated by the stream.
    expect((await run(t.engine().handle({ type: "Inc", id: "o4" }, "m1")))._tag).toBe("Redelivered")
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(2)
    expect((await run(t.instances.get("o4")))!.value.state.n).toBe(2)
  })

  it("stores an instance's timers under its key with the instance revision, and removes them when it finishes", async () => {
    const t = await setup()
    const engine = t.engine()
    const started = await run(engine.handle({ type: "Start", id: "o3", timeoutMs: 60_000 }, "s"))
    expect(started._tag).toBe("Advanced")
    const timer = started._tag === "Advanced" ? started.instance.timers[0]! : undefined
    expect(timer?.name).toBe("expire")
    const stored = await run(t.instances.get("o3"))
    expect((await run(t.timers.get("o3")))?.value).toEqual({ workflowId: "o3", revision: stored!.revision, timers: [timer] })
    await run(engine.handle(counterWorkflow.timerEvent(timer!), timer!.timerId))
    expect((await run(t.instances.get("o3")))!.value.terminal).toBe(true)
    expect(await run(t.timers.get("o3"))).toBeUndefined()
  })

  it("a crash between storing an instance and its timers: the redelivered event stores them, and the timer fires", async () => {
    const t = await setup()
    const publisher = makeJetStreamPublisher(conn.client)
    // The orchestrator dies after the instance is stored and before its timers are: that write never lands.
    const crashing = makeWorkflowEngine({
      definition: counterWorkflow, instances: t.instances, publisher, ...subjectsUnder(t.stream.toLowerCase()),
      timers: { ...t.timers, create: (key) => Effect.fail(new KvUnavailable({ bucket: "timers", key, reason: "killed" })) }
    })
    const start = { type: "Start" as const, id: "o5", timeoutMs: 200 }
    expect(Exit.isFailure(await Effect.runPromiseExit(crashing.handle(start, "start-o5")))).toBe(true)
    expect((await run(t.instances.get("o5")))?.value.timers).toHaveLength(1)
    expect(await run(t.timers.get("o5"))).toBeUndefined()

    const engine = t.engine(publisher)
    const fired: Array<PendingTimer> = []
    const scope = await Effect.runPromise(Scope.make())
    try {
      await Effect.runPromise(Scope.extend(runTimerScheduler({
        timers: t.timers, pollMs: 20,
        fire: (timer) => Effect.flatMap(engine.timerMessage(timer), (m) => publisher.publish(m)).pipe(Effect.tap(() => void fired.push(timer)))
      }), scope))
      // The redelivered Start is recognised as applied and stores the timers it had set.
      expect((await run(engine.handle(start, "start-o5")))._tag).toBe("Redelivered")
      await eventually(() => fired.length === 1, 10_000, "the timer to fire")
      await run(engine.handle(counterWorkflow.timerEvent(fired[0]!), firingId(fired[0]!)))
      expect((await run(t.instances.get("o5")))!.value).toMatchObject({ terminal: true, state: { n: -1 } })
      await new Promise((r) => setTimeout(r, 300))
      expect(fired).toHaveLength(1)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  // With an outbox left by the last transition, the stale firing writes the instance (to drop it); without, it writes nothing.
  it.each([["an outbox", false], ["no outbox", true]])("writes the timer entry lazily: a later timer leaves an earlier entry alone, which fires stale; the engine then stores the later one, which fires at its time (%s left)", async (_, quiet) => {
    const t = await setup()
    const engine = t.engine()
    await run(engine.handle({ type: "Start", id: "o9", timeoutMs: 300 }, "start"))
    const entry = (await run(t.timers.get("o9")))!
    await run(engine.handle({ type: "Extend", id: "o9", timeoutMs: 1_200, quiet }, "extend"))
    // No write: the stored entry (the Start timer's) still fires first.
    expect((await run(t.timers.get("o9")))!.revision).toBe(entry.revision)
    const extended = (await run(t.instances.get("o9")))!.value.timers[0]!
    expect(extended.timerId).not.toBe(entry.value.timers[0]!.timerId)
    const fired: Array<{ readonly timerId: string; readonly at: number }> = []
    const scope = await Effect.runPromise(Scope.make())
    try {
      await Effect.runPromise(Scope.extend(runTimerScheduler({
        timers: t.timers, pollMs: 20,
        fire: (timer) => Effect.sync(() => void fired.push({ timerId: timer.timerId, at: Date.now() })).pipe(
          Effect.zipRight(engine.handle(counterWorkflow.timerEvent(timer), firingId(timer)))
        )
      }), scope))
      await eventually(async () => (await run(t.instances.get("o9")))!.value.terminal, 10_000, "the extended timer to expire the instance")
      expect(fired.map((f) => f.timerId)).toEqual([entry.value.timers[0]!.timerId, extended.timerId])
      expect(fired[1]!.at).toBeGreaterThanOrEqual(extended.dueAt)
      expect((await run(t.instances.get("o9")))!.value.state.n).toBe(-1)
      await eventually(async () => (await run(t.timers.get("o9"))) === undefined, 5_000, "the fired entry to be deleted")
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("never replaces the timers of a later instance revision with an earlier one's (writes arriving out of order)", async () => {
    const t = await setup()
    const engine = t.engine()
    await run(engine.handle({ type: "Start", id: "o7", timeoutMs: 60_000 }, "s"))
    const stored = (await run(t.timers.get("o7")))!
    // Another replica's later transition stored its timers first (a later instance revision, no timers).
    await run(t.timers.update("o7", { ...stored.value, revision: stored.value.revision + 10, timers: [] }, stored.revision))
    // This engine's next transition comes from an earlier revision than that: it leaves the later entry alone.
    const later = (await run(t.timers.get("o7")))!
    // Stop finishes the instance, which clears its timer: a delete at the revision this engine wrote last loses, and is not retried.
    expect((await run(engine.handle({ type: "Stop", id: "o7" }, "stop")))._tag).toBe("Advanced")
    expect((await run(t.instances.get("o7")))!.revision).toBeLessThan(later.value.revision)
    expect((await run(t.timers.get("o7")))!.value).toEqual(later.value)
  })

  it("a finished instance's outbox is cleared once published: a late event publishes nothing again", async () => {
    const t = await setup()
    // A short duplicate window, so a re-publish would be stored again (as past the 2 min default).
    await conn.client.jsm.streams.update(t.stream, { duplicate_window: 100_000_000 })
    const engine = t.engine()
    await run(engine.handle({ type: "Start", id: "o6" }, "s"))
    expect((await run(engine.handle({ type: "Stop", id: "o6" }, "stop")))._tag).toBe("Advanced")
    const finished = (await run(t.instances.get("o6")))!.value
    expect(finished).toMatchObject({ terminal: true, outbox: [] })
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(1)
    // Stopped is an event the workflow emits: published on its event subject, under the transition's id.
    const last = await conn.client.jsm.streams.getMessage(t.stream, { last_by_subj: `${t.stream.toLowerCase()}.stopped` })
    expect([last?.header.get("Nats-Msg-Id"), last?.json()]).toEqual(["o6:2:0", { type: "Stopped", id: "o6", n: 0 }])
    await new Promise((r) => setTimeout(r, 300))
    // A late event and a redelivery of the last one, past the duplicate window.
    expect((await run(engine.handle({ type: "Start", id: "o6" }, "late")))._tag).toBe("Ignored")
    expect((await run(engine.handle({ type: "Stop", id: "o6" }, "stop")))._tag).toBe("Redelivered")
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(1)

    // Killed between publishing and clearing: the outbox is left over. The next late event
    // publishes it once more (it may never have gone out) and clears it; the ones after publish nothing.
    const stored = (await run(t.instances.get("o6")))!
    await run(t.instances.update("o6", { ...stored.value, outbox: [{ id: "o6:2:0", kind: "event", message: { type: "Stopped", id: "o6", n: 0 } }] }, stored.revision))
    await run(engine.handle({ type: "Start", id: "o6" }, "late-2"))
    expect((await run(t.instances.get("o6")))!.value.outbox).toEqual([])
    const afterLeftover = (await conn.client.jsm.streams.info(t.stream)).state.messages
    await new Promise((r) => setTimeout(r, 300))
    await run(engine.handle({ type: "Start", id: "o6" }, "late-3"))
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(afterLeftover)
  })
})
