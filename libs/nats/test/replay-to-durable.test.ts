// Replaying a dead letter reaches only the durable that failed it: each durable takes a replay
// subject of its own as a second filter subject (nats-server 2.10+), and replay publishes there.
import { eventually } from "@conveyor/testing"
import { DeadLetterHeaders, defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology, mergeTopologies, replaySubjectOf, withReplaySubjects } from "@conveyor/topology"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { deadLetterTopology, ensureTopology, listDeadLetters, planTopology, replayDeadLetters, runJetStreamConsumer } from "../src/index.js"
import { runScoped, useTestClient } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
const Order = Schema.Struct({ orderId: Schema.String })
class Broken extends Schema.TaggedError<Broken>()("Broken", {}) {}

const topologyOf = (stream: string) => {
  const prefix = stream.toLowerCase()
  const durable = (name: string) => ({ stream, durable: name, filterSubjects: [`${prefix}.>`], ackWaitMs: 5_000 })
  return {
    prefix,
    deadLetters: { stream: `${stream}_DLQ`, subjectPrefix: `${prefix}-dlq` },
    declared: defineTopology({ streams: [{ name: stream, subjects: [`${prefix}.>`], storage: "memory" }], consumers: [durable("failing"), durable("other")] })
  }
}

describe("dead-letter replay to the failed durable only", () => {
  it("the durable that failed handles the replay again, the other durable on the subject does not", async () => {
    const stream = uniqueName("REPLAYTO")
    const { prefix, deadLetters, declared } = topologyOf(stream)
    const topology = mergeTopologies(withReplaySubjects(declared), deadLetterTopology(deadLetters))
    await conn.runtime.runPromise(ensureTopology(topology))

    const state = { broken: true }
    const handled = { failing: [] as Array<{ orderId: string; subject: string }>, other: [] as Array<string> }
    const failing = defineHandler({
      schema: Order,
      handle: (o, ctx): Effect.Effect<void, Broken> =>
        state.broken ? Effect.fail(new Broken()) : Effect.sync(() => void handled.failing.push({ orderId: o.orderId, subject: ctx.delivery.subject })),
      errors: { Broken: "dead-letter" }
    })
    const other = defineHandler({ schema: Order, handle: (o) => Effect.sync(() => void handled.other.push(o.orderId)), errors: {} })
    const retry = makeRetryPolicy({ maxAttempts: 2 })
    const workers = await Promise.all([
      runScoped(conn.runtime, runJetStreamConsumer(failing, { consumer: topology.consumers[0]!, retry, deadLetters })),
      runScoped(conn.runtime, runJetStreamConsumer(other, { consumer: topology.consumers[1]!, retry, deadLetters }))
    ])
    await conn.client.js.publish(`${prefix}.placed`, JSON.stringify({ orderId: "o1" }), { msgID: "o1" })
    const letters = () => conn.runtime.runPromise(listDeadLetters(conn.client, {}, { deadLetters }))
    await eventually(async () => (await letters()).length === 1 && handled.other.length === 1, 15_000, "one dead letter, one success")

    state.broken = false
    const report = await conn.runtime.runPromise(replayDeadLetters(conn.client, { consumer: "failing" }, { deadLetters }))
    expect(report.replayed).toHaveLength(1)
    await eventually(() => handled.failing.length === 1, 15_000, "the replay handled by the durable that failed it")
    // Handled as on its own subject, and stored under the durable's replay subject.
    expect(handled.failing[0]).toEqual({ orderId: "o1", subject: `${prefix}.placed` })
    const stored = await conn.client.jsm.streams.getMessage(stream, { last_by_subj: replaySubjectOf(stream, "failing") })
    expect(stored?.header.get(DeadLetterHeaders.replayOfSubject)).toBe(`${prefix}.placed`)
    // The other durable is past the replay with nothing more handled.
    await eventually(async () => (await conn.client.jsm.consumers.info(stream, "other")).num_pending === 0, 15_000, "the other durable caught up")
    expect(handled.other).toEqual(["o1"])
    expect(await letters()).toEqual([])
    await Promise.all(workers.map((w) => w.close()))
  })

  it("ensureTopology adds the replay subjects to a stream and durables created without them", async () => {
    const stream = uniqueName("REPLAYUP")
    const { declared } = topologyOf(stream)
    await conn.runtime.runPromise(ensureTopology(declared))
    expect((await conn.client.jsm.consumers.info(stream, "failing")).config.filter_subject).toBe(`${stream.toLowerCase()}.>`)

    const upgraded = withReplaySubjects(declared)
    const plan = await conn.runtime.runPromise(planTopology(conn.client, upgraded))
    expect(plan.diffs.map((d) => d.plan._tag)).toEqual(["Update", "Update", "Update"])
    await conn.runtime.runPromise(ensureTopology(upgraded))
    expect((await conn.client.jsm.streams.info(stream)).config.subjects).toEqual([`${stream.toLowerCase()}.>`, `replay.${stream}.*`])
    const info = await conn.client.jsm.consumers.info(stream, "failing")
    expect(info.config.filter_subjects).toEqual([`${stream.toLowerCase()}.>`, replaySubjectOf(stream, "failing")])
    const again = await conn.runtime.runPromise(planTopology(conn.client, upgraded))
    expect(again.diffs.map((d) => d.plan._tag)).toEqual(["InSync", "InSync", "InSync"])
  })
})
