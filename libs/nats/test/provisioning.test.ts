import { LocalNatsProcess } from "@conveyor/testing"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology, replaySubjectOf, withReplaySubjects } from "@conveyor/topology"
import { Duration, Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ensureTopology, makeNatsClient, makeNatsConfig, planTopology } from "../src/index.js"
import { useTestClient } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const declare = (name: string, overrides: { maxAgeMs?: number; storage?: "file" | "memory"; ackWaitMs?: number; ttlMs?: number } = {}) =>
  defineTopology({
    streams: [{ name, subjects: [`${name.toLowerCase()}.>`], maxAgeMs: overrides.maxAgeMs ?? 60_000, storage: overrides.storage ?? "file" }],
    consumers: [{ stream: name, durable: "worker", filterSubjects: [`${name.toLowerCase()}.>`], ackWaitMs: overrides.ackWaitMs ?? 10_000, maxAckPending: 50 }],
    buckets: [{ name: `${name}_KV`, ttlMs: overrides.ttlMs ?? 3_600_000 }]
  })

describe("ensureTopology", () => {
  it("creates what is missing and changes nothing the second time", async () => {
    const name = uniqueName("TOPO")
    const first = await conn.runtime.runPromise(ensureTopology(declare(name)))
    expect(first.diffs.map((d) => d.plan._tag)).toEqual(["Create", "Create", "Create"])
    const before = await conn.client.jsm.streams.info(name)
    const second = await conn.runtime.runPromise(ensureTopology(declare(name)))
    expect(second.diffs.map((d) => d.plan._tag)).toEqual(["InSync", "InSync", "InSync"])
    const after = await conn.client.jsm.streams.info(name)
    expect(after.created).toEqual(before.created)
    const consumer = await conn.client.jsm.consumers.info(name, "worker")
    expect(consumer.config.max_ack_pending).toBe(50)
  })

  it("updates what can be updated in place", async () => {
    const name = uniqueName("UPD")
    await conn.runtime.runPromise(ensureTopology(declare(name)))
    const report = await conn.runtime.runPromise(ensureTopology(declare(name, { maxAgeMs: 120_000, ackWaitMs: 20_000, ttlMs: 7_200_000 })))
    expect(report.diffs.map((d) => d.plan._tag)).toEqual(["Update", "Update", "Update"])
    expect((await conn.client.jsm.streams.info(name)).config.max_age).toBe(120_000 * 1_000_000)
    expect((await conn.client.jsm.consumers.info(name, "worker")).config.ack_wait).toBe(20_000 * 1_000_000)
    const plan = await Effect.runPromise(planTopology(conn.client, declare(name, { maxAgeMs: 120_000, ackWaitMs: 20_000, ttlMs: 7_200_000 })))
    expect(plan.diffs.every((d) => d.plan._tag === "InSync")).toBe(true)
  })

  it("turns a durable deployed with one filter subject into the declared several, in place and at the position it had", async () => {
    const name = uniqueName("FILTERS")
    const lower = name.toLowerCase()
    // As an earlier version deployed it: one `filter_subject` over the whole stream.
    await conn.client.jsm.streams.add({ name, subjects: [`${lower}.>`] })
    await conn.client.jsm.consumers.add(name, { durable_name: "worker", filter_subject: `${lower}.>`, ack_policy: "explicit" as never, ack_wait: 10_000_000_000 })
    const js = conn.client.js
    for (const s of ["a", "b", "c", "a"]) await js.publish(`${lower}.${s}`, s)
    const consumer = await js.consumers.get(name, "worker")
    for (const expected of ["a", "b"]) {
      const m = (await consumer.next({ expires: 5_000 }))!
      expect(m.subject).toBe(`${lower}.${expected}`)
      await m.ackAck()
    }
    const declared = withReplaySubjects(defineTopology({
      streams: [{ name, subjects: [`${lower}.>`] }],
      consumers: [{ stream: name, durable: "worker", filterSubjects: [`${lower}.c`, `${lower}.d`], ackWaitMs: 10_000 }]
    }))
    const plan = await Effect.runPromise(planTopology(conn.client, declared))
    expect(plan.diffs.map((d) => [d.plan._tag, d.drift])).toEqual([["Update", []], ["Update", []]])
    await conn.runtime.runPromise(ensureTopology(declared))
    const info = await conn.client.jsm.consumers.info(name, "worker")
    expect(info.config.filter_subjects).toEqual([`${lower}.c`, `${lower}.d`, replaySubjectOf(name, "worker")])
    expect(info.config.filter_subject ?? "").toBe("")
    expect([info.delivered.stream_seq, info.ack_floor.stream_seq]).toEqual([2, 2])
    expect(info.num_pending).toBe(1)
    // It goes on where it was with the new filters: the `a` after its position is not its any more.
    await js.publish(`${lower}.d`, "d")
    await js.publish(`${lower}.b`, "b")
    const next = []
    for (let i = 0; i < 2; i++) {
      const m = (await consumer.next({ expires: 5_000 }))!
      next.push([m.subject, m.seq])
      await m.ackAck()
    }
    expect(next).toEqual([[`${lower}.c`, 3], [`${lower}.d`, 5]])
    expect((await conn.client.jsm.consumers.info(name, "worker")).num_pending).toBe(0)
    expect((await Effect.runPromise(planTopology(conn.client, declared))).diffs.map((d) => d.plan._tag)).toEqual(["InSync", "InSync"])
    // And back to one filter: `filter_subjects` is cleared for `filter_subject`.
    const single = defineTopology({ streams: declared.streams, consumers: [{ stream: name, durable: "worker", filterSubjects: [`${lower}.b`], ackWaitMs: 10_000 }] })
    await conn.runtime.runPromise(ensureTopology(single))
    const back = await conn.client.jsm.consumers.info(name, "worker")
    expect([back.config.filter_subject, back.config.filter_subjects ?? []]).toEqual([`${lower}.b`, []])
    expect(back.ack_floor.stream_seq).toBe(5)
    const b = (await consumer.next({ expires: 5_000 }))!
    expect([b.subject, b.seq]).toEqual([`${lower}.b`, 6])
  })

  it("reports what cannot be changed in place as drift, naming the field", async () => {
    const name = uniqueName("DRIFT")
    await conn.runtime.runPromise(ensureTopology(declare(name)))
    const result = await conn.runtime.runPromise(Effect.either(ensureTopology(declare(name, { storage: "memory" }))))
    expect(result._tag).toBe("Left")
    if (result._tag === "Left") {
      expect(result.left._tag).toBe("TopologyDrift")
      expect(result.left.message).toContain(`stream ${name}: storage declared "memory" but is "file"`)
    }
    expect((await conn.client.jsm.streams.info(name)).config.storage).toBe("file")
  })

  it("still applies the updatable fields of a drifted resource", async () => {
    const name = uniqueName("DRIFTUPD")
    await conn.runtime.runPromise(ensureTopology(declare(name)))
    const result = await conn.runtime.runPromise(Effect.either(ensureTopology(declare(name, { storage: "memory", maxAgeMs: 120_000 }))))
    expect(result._tag === "Left" && result.left._tag).toBe("TopologyDrift")
    const info = await conn.client.jsm.streams.info(name)
    expect(info.config.max_age).toBe(120_000 * 1_000_000)
    expect(info.config.storage).toBe("file")
  })
})

describe("connection", () => {
  it("fails with a typed error naming the URL within the bounded time when no server answers", async () => {
    const started = Date.now()
    const url = "nats://127.0.0.1:1"
    const result = await Effect.runPromise(Effect.either(Effect.scoped(makeNatsClient(makeNatsConfig({ servers: [url], connectTimeout: Duration.seconds(2) })))))
    const elapsed = Date.now() - started
    expect(result._tag).toBe("Left")
    if (result._tag === "Left") {
      expect(result.left._tag).toBe("ConnectionFailed")
      expect(result.left.message).toContain(url)
      if (result.left._tag === "ConnectionFailed") expect(result.left.attempts).toBeGreaterThan(1)
    }
    expect(elapsed).toBeLessThan(10_000)
  })

  it("surfaces a connection lost for good as an error instead of stalling", async () => {
    const own = await LocalNatsProcess.start()
    try {
      const exit = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const { client } = yield* makeNatsClient(makeNatsConfig({ servers: [own.url], reconnectFor: Duration.seconds(2) }))
            yield* Effect.promise(() => own.kill())
            return yield* Effect.either(client.lost.pipe(Effect.timeout("20 seconds")))
          })
        )
      )
      expect(exit._tag).toBe("Left")
      if (exit._tag === "Left") expect(exit.left._tag).toBe("ConnectionLost")
    } finally {
      await own.stop()
    }
  })
})
