import { eventually } from "@conveyor/testing"
import { DeadLetterHeaders, defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { inspectDeadLetter, listDeadLetters, purgeDeadLetters, type ReplayProgress, replayDeadLetters, runJetStreamConsumer } from "../src/index.js"
import { setupRuntime } from "./runtime-support.js"
import { useTestClient, runScoped } from "./support.js"

const Order = Schema.Struct({ orderId: Schema.String, kind: Schema.Literal("stock", "fraud") })
class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", {}) {}
class Fraud extends Schema.TaggedError<Fraud>()("Fraud", {}) {}

const server = useNatsServer()
const conn = useTestClient(server)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

/** Five dead letters: three OutOfStock on `<prefix>.stock`, two Fraud on `<prefix>.fraud`. */
const withDeadLetters = async () => {
  const rt = await setupRuntime(conn)
  const state = { broken: true }
  const processed: Array<{ orderId: string; headers: Record<string, string> }> = []
  const handler = defineHandler({
    schema: Order,
    handle: (o, ctx): Effect.Effect<void, OutOfStock | Fraud> =>
      state.broken
        ? o.kind === "stock"
          ? Effect.fail(new OutOfStock())
          : Effect.fail(new Fraud())
        : Effect.sync(() => void processed.push({ orderId: o.orderId, headers: { ...ctx.delivery.headers } })),
    errors: { OutOfStock: "dead-letter", Fraud: "dead-letter" }
  })
  const worker = await runScoped(conn.runtime, runJetStreamConsumer(handler, { consumer: rt.consumer, retry: makeRetryPolicy({ maxAttempts: 2 }), deadLetters: rt.deadLetters }))
  for (const id of ["s1", "s2", "s3"]) await rt.publishRaw(`${rt.prefix}.stock`, { orderId: id, kind: "stock" }, { msgId: id, headers: { traceparent } })
  for (const id of ["f1", "f2"]) await rt.publishRaw(`${rt.prefix}.fraud`, { orderId: id, kind: "fraud" }, { msgId: id })
  await eventually(async () => (await rt.letters()).length === 5, 15_000, "five dead letters")
  return { rt, state, processed, stop: worker.close }
}

describe("dead-letter replay against a real nats-server", () => {
  it("lists and inspects with filters on subject, error tag, consumer, sequence and time", async () => {
    const { rt, stop } = await withDeadLetters()
    const list = (filter: Parameters<typeof listDeadLetters>[1]) => run(listDeadLetters(conn.client, filter, { deadLetters: rt.deadLetters })).then((ls) => ls.map((l) => l.originalMessageId).sort())
    expect(await list({})).toEqual(["f1", "f2", "s1", "s2", "s3"])
    expect(await list({ errorTag: "OutOfStock" })).toEqual(["s1", "s2", "s3"])
    expect(await list({ originalSubject: `${rt.prefix}.fraud` })).toEqual(["f1", "f2"])
    expect(await list({ originalSubject: `${rt.prefix}.*` })).toHaveLength(5)
    expect(await list({ consumer: "worker", originalStream: rt.stream })).toHaveLength(5)
    expect(await list({ consumer: "someone-else" })).toEqual([])
    expect(await list({ since: new Date(Date.now() + 60_000) })).toEqual([])
    expect(await list({ since: new Date(Date.now() - 60_000), until: new Date(Date.now() + 60_000) })).toHaveLength(5)
    const all = await run(listDeadLetters(conn.client, {}, { deadLetters: rt.deadLetters }))
    const second = all[1]!
    expect(await list({ sequences: [second.sequence] })).toEqual([second.originalMessageId])
    expect(await list({ fromSequence: second.sequence, toSequence: second.sequence + 1 })).toHaveLength(2)
    expect(await run(listDeadLetters(conn.client, {}, { deadLetters: rt.deadLetters, limit: 2 }))).toHaveLength(2)
    const inspected = await run(inspectDeadLetter(conn.client, second.sequence, { deadLetters: rt.deadLetters }))
    expect(inspected).toMatchObject({ sequence: second.sequence, originalMessageId: second.originalMessageId, errorTag: second.errorTag })
    expect(await run(inspectDeadLetter(conn.client, 9_999, { deadLetters: rt.deadLetters }))).toBeUndefined()
    await stop()
  })

  it("dry run reports what would move and changes nothing", async () => {
    const { rt, stop } = await withDeadLetters()
    const before = await conn.client.jsm.streams.info(rt.stream)
    const progress: Array<ReplayProgress> = []
    const report = await run(replayDeadLetters(conn.client, { errorTag: "OutOfStock" }, { deadLetters: rt.deadLetters, dryRun: true, onProgress: (p) => void progress.push(p) }))
    expect(report).toMatchObject({ dryRun: true, matched: 3, replayed: [], failed: [] })
    expect(progress.map((p) => [p.done, p.total, p.result])).toEqual([
      [1, 3, "would-replay"],
      [2, 3, "would-replay"],
      [3, 3, "would-replay"]
    ])
    expect(await rt.letters()).toHaveLength(5)
    expect((await conn.client.jsm.streams.info(rt.stream)).state.messages).toBe(before.state.messages)
    const purge = await run(purgeDeadLetters(conn.client, { errorTag: "Fraud" }, { deadLetters: rt.deadLetters, dryRun: true }))
    expect(purge.purged).toHaveLength(2)
    expect(await rt.letters()).toHaveLength(5)
    await stop()
  })

  it("replays exactly the filtered dead letters with new ids and their lineage; they get processed and leave the dead-letter stream", async () => {
    const { rt, state, processed, stop } = await withDeadLetters()
    state.broken = false
    const progress: Array<ReplayProgress> = []
    const report = await run(
      replayDeadLetters(conn.client, { errorTag: "OutOfStock" }, { deadLetters: rt.deadLetters, ratePerSecond: 100, onProgress: (p) => void progress.push(p) })
    )
    expect(report.replayed.map((l) => l.originalMessageId)).toEqual(["s1", "s2", "s3"])
    expect(report.failed).toEqual([])
    expect(progress.map((p) => p.result)).toEqual(["replayed", "replayed", "replayed"])
    await eventually(() => processed.length === 3, 15_000, "the replayed messages processed")
    expect(processed.map((p) => p.orderId).sort()).toEqual(["s1", "s2", "s3"])
    for (const p of processed) {
      expect(p.headers[DeadLetterHeaders.replayOf]).toBe(p.orderId)
      expect(p.headers["Nats-Msg-Id"]).not.toBe(p.orderId)
      expect(p.headers[DeadLetterHeaders.originalTraceparent]).toBe(traceparent)
      expect(p.headers["traceparent"]).toBeUndefined()
      expect(p.headers[DeadLetterHeaders.errorTag]).toBeUndefined()
    }
    const left = await rt.letters()
    expect(left.map((l) => l.originalMessageId).sort()).toEqual(["f1", "f2"])
    // Purge the rest with a filter.
    const purged = await run(purgeDeadLetters(conn.client, { originalSubject: `${rt.prefix}.fraud` }, { deadLetters: rt.deadLetters }))
    expect(purged.purged).toHaveLength(2)
    expect(await rt.letters()).toEqual([])
    await stop()
  })

  it("refuses letters that do not match their stored original: another payload, subject, sequence or consumer", async () => {
    const { rt, state, processed, stop } = await withDeadLetters()
    state.broken = false
    const [real] = await run(listDeadLetters(conn.client, { errorTag: "OutOfStock" }, { deadLetters: rt.deadLetters, limit: 1 }))
    const forge = (name: string, subject: string, headers: Record<string, string>, payload: object = { orderId: `forged-${name}`, kind: "stock" }) =>
      rt.publishRaw(subject, payload, { msgId: `forged-${name}`, headers: { ...real!.headers, [DeadLetterHeaders.errorTag]: `Forged-${name}`, ...headers } })
    const own = `${rt.deadLetters.subjectPrefix}.${rt.stream}.worker`
    await forge("payload", own, {})
    await forge("subject", own, { [DeadLetterHeaders.originalSubject]: `${rt.prefix}.fraud` }, { orderId: "s1", kind: "stock" })
    await forge("sequence", own, { [DeadLetterHeaders.originalSequence]: "999" }, { orderId: "s1", kind: "stock" })
    await forge("consumer", own, { [DeadLetterHeaders.consumer]: "someone-else" })
    const forged = (await rt.letters()).filter((l) => l.errorTag.startsWith("Forged-"))
    expect(forged).toHaveLength(4)
    const report = await run(replayDeadLetters(conn.client, { sequences: [real!.sequence, ...forged.map((l) => l.sequence)] }, { deadLetters: rt.deadLetters }))
    expect(report.replayed.map((l) => l.sequence)).toEqual([real!.sequence])
    expect(report.failed.map((f) => f.letter.errorTag).sort()).toEqual(["Forged-consumer", "Forged-payload", "Forged-sequence", "Forged-subject"])
    for (const f of report.failed) expect(f.reason).toMatch(/^not replayed: /)
    await eventually(() => processed.length === 1, 15_000, "the genuine letter processed")
    expect(processed.map((p) => p.orderId)).toEqual([real!.originalMessageId])
    expect((await rt.letters()).filter((l) => l.errorTag.startsWith("Forged-"))).toHaveLength(4)
    await stop()
  })

  it("keeps a dead letter it cannot check or republish, and reports it", async () => {
    const rt = await setupRuntime(conn)
    // A dead letter whose original subject no stream captures any more.
    await rt.publishRaw(`${rt.deadLetters.subjectPrefix}.GONE.worker`, { orderId: "g", kind: "stock" }, {
      msgId: "dlq:GONE:1:worker",
      headers: { [DeadLetterHeaders.originalSubject]: "nowhere.at-all", [DeadLetterHeaders.originalMessageId]: "g", [DeadLetterHeaders.errorTag]: "OutOfStock" }
    })
    const report = await run(replayDeadLetters(conn.client, {}, { deadLetters: rt.deadLetters }))
    expect(report.replayed).toEqual([])
    expect(report.failed).toHaveLength(1)
    expect(report.failed[0]!.reason.length).toBeGreaterThan(0)
    expect(await rt.letters()).toHaveLength(1)
  })
})
