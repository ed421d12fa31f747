import { derivedMessageId, PublishFailed } from "@conveyor/messaging"
import { makeJetStreamPublisher } from "@conveyor/nats"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { firingId, instanceSchema, PendingTimer } from "@conveyor/workflow"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { KvUnavailable, makeJsonBucket } from "../src/index.js"
import { makeWorkflowEngine } from "../src/internal/engine.js"
import { runTimerScheduler, timerKey } from "../src/timers.js"
import { counterWorkflow, gateWorkflow } from "./counter-workflow.js"
import { createBucket, eventually, openClient } from "./support.js"

const server = useNatsServer()
let conn: Awaited<ReturnType<typeof openClient>>
beforeAll(async () => {
  conn = await openClient(server.url)
})
afterAll(async () => {
  await conn?.close()
})

const setup = async () => {
  const name = uniqueName("ctr").toLowerCase()
  const stream = name.toUpperCase()
  await conn.client.jsm.streams.add({ name: stream, subjects: [`${name}.>`] })
  const instances = makeJsonBucket(conn.client, await createBucket(conn.client, `${name}-wf`), `${name}-wf`, instanceSchema(counterWorkflow))
  const timers = makeJsonBucket(conn.client, await createBucket(conn.client, `${name}-timers`), `${name}-timers`, PendingTimer)
  let conflicts = 0
  const engine = (publisher = makeJetStreamPublisher(conn.client)) =>
    makeWorkflowEngine({
      definition: counterWorkflow,
      instances,
      timers,
      publisher,
      subjectOf: (m) => `${name}.${m.type.toLowerCase()}`,
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
    const options = { definition: counterWorkflow, timers: t.timers, subjectOf: (m: { type: string }) => `${t.stream.toLowerCase()}.${m.type.toLowerCase()}`, maxConflicts: 1_000 }
    const a = makeWorkflowEngine({ ...options, instances: counted, publisher: counting })
    const b = makeWorkflowEngine({ ...options, instances: t.instances, publisher: real })
    await run(a.handle({ type: "Start", id: "c1" }, "start"))
    for (let i = 0; i < 3; i++) await run(a.handle({ type: "Inc", id: "c1" }, `a-${i}`))
    // One read (the first event, nothing cached); each Inc's Note published once, none again.
    expect(reads).toBe(1)
    expect(published).toBe(3)
    // Another orchestrator advances the instance: a's cached revision is stale now.
    await run(b.handle({ type: "Inc", id: "c1" }, "b-0"))
    const after = await run(a.handle({ type: "Inc", id: "c1" }, "a-3"))
    expect(after._tag).toBe("Advanced")
    expect(reads).toBe(2)
    const stored = (await run(t.instances.get("c1")))!
    expect(stored.value.state.n).toBe(5)
    expect(stored.value.history.map((h) => h.causationId)).toEqual(["start", "a-0", "a-1", "a-2", "b-0", "a-3"])
    // A redelivery of an event a applied is answered from the stored instance, not the cache.
    expect((await run(a.handle({ type: "Inc", id: "c1" }, "a-3")))._tag).toBe("Redelivered")
    expect(reads).toBe(3)
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(5)
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
    const options = { definition: gateWorkflow, instances, timers: t.timers, publisher: makeJetStreamPublisher(conn.client), subjectOf: () => `${t.stream.toLowerCase()}.x` }
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

  it("stores a transition's timers in the timer bucket and removes them when the instance finishes", async () => {
    const t = await setup()
    const engine = t.engine()
    const started = await run(engine.handle({ type: "Start", id: "o3", timeoutMs: 60_000 }, "s"))
    expect(started._tag).toBe("Advanced")
    const timer = started._tag === "Advanced" ? started.instance.timers[0]! : undefined
    expect(timer?.name).toBe("expire")
    expect((await run(t.timers.get(timerKey(timer!.timerId))))?.value).toEqual(timer)
    await run(engine.handle(counterWorkflow.timerEvent(timer!), timer!.timerId))
    expect((await run(t.instances.get("o3")))!.value.terminal).toBe(true)
    expect(await run(t.timers.get(timerKey(timer!.timerId)))).toBeUndefined()
  })

  it("a crash between storing a timer and its instance: the orphan firing is ignored, and the re-armed timer fires", async () => {
    const t = await setup()
    const publisher = makeJetStreamPublisher(conn.client)
    // The orchestrator dies after the timer is stored and before the instance is: the write never lands.
    const crashing = makeWorkflowEngine({
      definition: counterWorkflow, timers: t.timers, publisher, subjectOf: (m) => `${t.stream.toLowerCase()}.${m.type.toLowerCase()}`,
      instances: { ...t.instances, create: (key) => Effect.fail(new KvUnavailable({ bucket: "wf", key, reason: "killed" })) }
    })
    const start = { type: "Start" as const, id: "o5", timeoutMs: 200 }
    expect(Exit.isFailure(await Effect.runPromiseExit(crashing.handle(start, "start-o5")))).toBe(true)

    const engine = t.engine(publisher)
    const fired: Array<PendingTimer> = []
    const scope = await Effect.runPromise(Scope.make())
    try {
      await Effect.runPromise(Scope.extend(runTimerScheduler({
        timers: t.timers, pollMs: 20,
        fire: (timer) => Effect.flatMap(engine.timerMessage(timer), (m) => publisher.publish(m)).pipe(Effect.tap(() => void fired.push(timer)))
      }), scope))
      await eventually(() => fired.length === 1, 10_000, "the orphan timer to fire")
      // Its instance does not exist: a stale firing, acked and ignored, never an illegal transition.
      const orphan = await run(engine.handle(counterWorkflow.timerEvent(fired[0]!), firingId(fired[0]!)))
      expect(orphan).toMatchObject({ _tag: "Ignored", reason: "timer of an instance that was never stored" })
      await eventually(async () => (await run(t.timers.get(timerKey(fired[0]!.timerId)))) === undefined, 5_000, "the fired timer's deletion")

      // The redelivered Start creates the instance and arms the same timer id again, due later.
      expect((await run(engine.handle(start, "start-o5")))._tag).toBe("Advanced")
      await eventually(() => fired.length === 2, 10_000, "the re-armed timer to fire")
      expect(fired[1]!.timerId).toBe(fired[0]!.timerId)
      // Both firings are stored: the second is not dropped as a duplicate of the first.
      expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(2)
      await run(engine.handle(counterWorkflow.timerEvent(fired[1]!), firingId(fired[1]!)))
      expect((await run(t.instances.get("o5")))!.value).toMatchObject({ terminal: true, state: { n: -1 } })
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
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
    await new Promise((r) => setTimeout(r, 300))
    // A late event and a redelivery of the last one, past the duplicate window.
    expect((await run(engine.handle({ type: "Start", id: "o6" }, "late")))._tag).toBe("Ignored")
    expect((await run(engine.handle({ type: "Stop", id: "o6" }, "stop")))._tag).toBe("Redelivered")
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(1)

    // Killed between publishing and clearing: the outbox is left over. The next late event
    // publishes it once more (it may never have gone out) and clears it; the ones after publish nothing.
    const stored = (await run(t.instances.get("o6")))!
    await run(t.instances.update("o6", { ...stored.value, outbox: [{ id: "o6:2:0", message: { type: "Note", id: "o6", n: 0 } }] }, stored.revision))
    await run(engine.handle({ type: "Start", id: "o6" }, "late-2"))
    expect((await run(t.instances.get("o6")))!.value.outbox).toEqual([])
    const afterLeftover = (await conn.client.jsm.streams.info(t.stream)).state.messages
    await new Promise((r) => setTimeout(r, 300))
    await run(engine.handle({ type: "Start", id: "o6" }, "late-3"))
    expect((await conn.client.jsm.streams.info(t.stream)).state.messages).toBe(afterLeftover)
  })
})
