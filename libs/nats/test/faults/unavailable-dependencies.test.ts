import { eventually } from "@conveyor/testing"
import { DeadLetterHeaders, defineHandler, makeRetryPolicy, type Settlement, tapResult } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import { Data, Effect } from "effect"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { deadLetterTopology, ensureTopology, kvStreamName, openKvIdempotencyStore, runJetStreamConsumer } from "../../src/index.js"
import { useTestClient, runScoped } from "../support.js"
import { Job } from "./fixtures/job.js"
import { cleanupFaults, type FaultSetup, faultSetup, jobs, publishJobs, storedMessageIds, waitDrained } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
afterAll(cleanupFaults)

class Poison extends Data.TaggedError("Poison")<{ readonly message: string }> {}

interface Observed {
  readonly runs: Map<string, number>
  /** Every settlement per message id, in order, with the delivery count and when it happened. */
  readonly settled: Map<string, Array<{ readonly settlement: Settlement; readonly deliveryCount: number; readonly reason?: string; readonly at: number }>>
}

/** A runner whose handler fails permanently on a negative `n` and otherwise publishes an output. */
const startRunner = async (setup: FaultSetup, options: { readonly deadLetters?: { stream: string; subjectPrefix: string }; readonly maxAttempts: number }) => {
  const observed: Observed = { runs: new Map(), settled: new Map() }
  const handler = defineHandler({
    schema: Job,
    handle: (job, ctx) =>
      Effect.gen(function* () {
        observed.runs.set(job.id, (observed.runs.get(job.id) ?? 0) + 1)
        if (job.n < 0) return yield* new Poison({ message: `job ${job.id} cannot be processed` })
        return [yield* ctx.message(Job, setup.outputSubject, job, "done")]
      }),
    errors: { Poison: "dead-letter", EncodeError: "dead-letter" }
  })
  const store = await conn.runtime.runPromise(openKvIdempotencyStore(conn.client, setup.bucket))
  const running = await runScoped(
    conn.runtime,
    runJetStreamConsumer(handler, {
      consumer: setup.consumer,
      retry: makeRetryPolicy({ maxAttempts: options.maxAttempts, initialDelayMs: 200, maxDelayMs: 1_000 }),
      concurrency: 4,
      idempotency: store,
      ...(options.deadLetters !== undefined ? { deadLetters: options.deadLetters } : {}),
      middlewares: [tapResult((delivery, { outcome: outcome, settlement: settlement }) => {
        const list = observed.settled.get(delivery.messageId) ?? []
        list.push({ settlement, deliveryCount: delivery.deliveryCount, at: Date.now(), ...(outcome._tag === "Deferred" ? { reason: outcome.reason } : {}) })
        observed.settled.set(delivery.messageId, list)
      })]
    })
  )
  const settlements = (id: string) => (observed.settled.get(id) ?? []).map((s) => s.settlement)
  return { observed, settlements, close: running.close }
}

const goodJobs = (prefix: string, n: number) => jobs(prefix, n)
const poisonJob = { id: "poison", n: -1 }

/**
 * The dead-letter stream cannot take the poison message (`prepare` it before the runner starts, which
 * checks that it exists, and `break` it once it runs), then comes back (`restore` it): meanwhile the poison message is nak'ed and stays, good messages keep flowing; afterwards
 * it is dead-lettered exactly once and nothing is pending.
 */
const deadLetterOutage = async (label: string, hooks: { readonly prepare: (dlq: { stream: string; subjectPrefix: string }) => Promise<void>; readonly break: (dlq: { stream: string; subjectPrefix: string }) => Promise<void>; readonly restore: (dlq: { stream: string; subjectPrefix: string }) => Promise<void>; readonly expectedDeadLetters: number }) => {
  const setup = await faultSetup(conn.runtime, label, { ackWaitMs: 2_000 })
  const dlq = { stream: `${setup.name}_DLQ`, subjectPrefix: `${setup.name.toLowerCase()}_dlq` }
  await hooks.prepare(dlq)
  const maxAttempts = 3
  const runner = await startRunner(setup, { deadLetters: dlq, maxAttempts })
  await hooks.break(dlq)
  await publishJobs(conn.runtime, setup.jobSubject, [poisonJob])
  const before = goodJobs("a", 20)
  await publishJobs(conn.runtime, setup.jobSubject, before)

  await eventually(() => runner.settlements("poison").filter((s) => s === "dead-letter-failed").length >= maxAttempts + 1, 30_000, "the dead-letter copy to fail past the attempts")
  await eventually(() => before.every((j) => runner.observed.runs.get(j.id) === 1), 15_000, "good messages to flow past the poison one")
  // Still there: in the stream and outstanding on the durable.
  const outstanding = await conn.client.jsm.consumers.info(setup.name, "worker")
  expect(outstanding.num_ack_pending + outstanding.num_pending).toBeGreaterThanOrEqual(1)
  expect((await conn.client.jsm.streams.info(setup.name)).state.messages).toBe(21)
  expect(runner.settlements("poison")).not.toContain("dead-lettered")
  // The crash-loop guard: past its attempts the handler is not run again while the copy keeps failing.
  expect(runner.observed.runs.get("poison")).toBeLessThanOrEqual(maxAttempts)

  await hooks.restore(dlq)
  await eventually(() => runner.settlements("poison").includes("dead-lettered"), 30_000, "the poison message to be dead-lettered once the stream is back")
  const after = goodJobs("b", 10)
  await publishJobs(conn.runtime, setup.jobSubject, after)
  await waitDrained(conn.client, setup.name, "worker")
  await eventually(() => after.every((j) => runner.observed.runs.get(j.id) === 1), 15_000, "messages after the outage")
  await runner.close()

  const deadLetterInfo = await conn.client.jsm.streams.info(dlq.stream)
  expect(deadLetterInfo.state.messages).toBe(hooks.expectedDeadLetters)
  const copy = await conn.client.jsm.streams.getMessage(dlq.stream, { last_by_subj: `${dlq.subjectPrefix}.${setup.name}.worker` })
  expect(JSON.parse(new TextDecoder().decode(copy!.data))).toEqual(poisonJob)
  // Redelivered past its attempts while the copy kept failing, so the crash-loop guard made the
  // copy (the handler's own error is not kept across deliveries).
  expect(copy!.header.get(DeadLetterHeaders.errorTag)).toBe("AttemptsExhausted")
  expect(Number(copy!.header.get(DeadLetterHeaders.attempts))).toBeGreaterThan(maxAttempts)
  expect(copy!.header.get(DeadLetterHeaders.originalMessageId)).toBe("poison")
  expect(copy!.header.get(DeadLetterHeaders.originalStream)).toBe(setup.name)
  expect(copy!.header.get(DeadLetterHeaders.originalSequence)).toBe("1")
  expect(runner.settlements("poison").filter((s) => s === "dead-lettered")).toHaveLength(1)
  expect(await storedMessageIds(conn.client, setup.outputStream)).toHaveLength(30)
  console.log(`[${label}] poison settlements: ${runner.settlements("poison").join(", ")}`)
}

describe("dependencies unavailable, then back", () => {
  it("dead-letter stream deleted under a running consumer: the poison message is nak'ed and kept, then dead-lettered once the stream exists", { timeout: 90_000 }, async () => {
    await deadLetterOutage("DLQMISSING", {
      prepare: async (dlq) => void (await conn.runtime.runPromise(ensureTopology(deadLetterTopology(dlq)))),
      break: async (dlq) => void (await conn.client.jsm.streams.delete(dlq.stream)),
      restore: async (dlq) => void (await conn.runtime.runPromise(ensureTopology(deadLetterTopology(dlq)))),
      expectedDeadLetters: 1
    })
  })

  it("dead-letter stream full (discard new): the poison message is nak'ed and kept, then dead-lettered once there is room", { timeout: 90_000 }, async () => {
    const full = (dlq: { stream: string; subjectPrefix: string }, maxMsgs: number) =>
      defineTopology({ streams: [{ name: dlq.stream, subjects: [`${dlq.subjectPrefix}.>`], maxMsgs, discard: "new" }] })
    await deadLetterOutage("DLQFULL", {
      prepare: async (dlq) => {
        await conn.runtime.runPromise(ensureTopology(full(dlq, 1)))
        await conn.client.js.publish(`${dlq.subjectPrefix}.filler`, "x")
      },
      break: async () => {},
      restore: async (dlq) => void (await conn.runtime.runPromise(ensureTopology(full(dlq, 1_000)))),
      expectedDeadLetters: 2
    })
  })

  it("idempotency bucket deleted: the handler does not run, messages are nak'ed with a delay, the runner recovers when it is back", { timeout: 90_000 }, async () => {
    const setup = await faultSetup(conn.runtime, "IDEMGONE", { ackWaitMs: 2_000 })
    // The runner dead-letters to the default stream: it must exist before the runner starts.
    await conn.runtime.runPromise(ensureTopology(deadLetterTopology()))
    const runner = await startRunner(setup, { maxAttempts: 5 })
    const before = goodJobs("a", 5)
    await publishJobs(conn.runtime, setup.jobSubject, before)
    await eventually(() => before.every((j) => runner.settlements(j.id).includes("acked")), 15_000, "messages before the outage")

    await conn.client.jsm.streams.delete(kvStreamName(setup.bucket))
    const during = goodJobs("d", 10)
    await publishJobs(conn.runtime, setup.jobSubject, during)
    // Deferred at least twice each: nak'ed with a delay and redelivered, the handler never run.
    await eventually(() => during.every((j) => runner.settlements(j.id).filter((s) => s === "deferred").length >= 2), 30_000, "deferrals while the bucket is gone")
    expect(during.map((j) => runner.observed.runs.get(j.id) ?? 0)).toEqual(during.map(() => 0))
    for (const j of during) {
      const [first, second] = runner.observed.settled.get(j.id)!
      expect(first!.reason).toMatch(/idempotency store unavailable/)
      expect(second!.deliveryCount).toBeGreaterThan(first!.deliveryCount)
      // The nak carried the retry delay (200 ms): the next delivery came no sooner.
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(150)
    }

    await conn.runtime.runPromise(ensureTopology(defineTopology({ buckets: setup.topology.buckets })))
    await eventually(() => during.every((j) => runner.settlements(j.id).includes("acked")), 30_000, "recovery once the bucket is back")
    const after = goodJobs("b", 5)
    await publishJobs(conn.runtime, setup.jobSubject, after)
    await waitDrained(conn.client, setup.name, "worker")
    await eventually(() => after.every((j) => runner.settlements(j.id).includes("acked")), 15_000, "messages after the outage")
    await runner.close()

    const all = [...before, ...during, ...after]
    expect(all.map((j) => runner.observed.runs.get(j.id))).toEqual(all.map(() => 1))
    expect([...runner.observed.settled.values()].flat().map((s) => s.settlement)).not.toContain("dead-lettered")
    expect(new Set(await storedMessageIds(conn.client, setup.outputStream))).toEqual(new Set(all.map((j) => `${j.id}>done`)))
    console.log(`[idempotency outage] deliveries per message during the outage: ${during.map((j) => runner.observed.settled.get(j.id)!.length).join(",")}`)
  })
})
