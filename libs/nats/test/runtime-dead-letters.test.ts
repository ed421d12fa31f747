import { eventually } from "@conveyor/testing"
import { DeadLetterHeaders, defineHandler, makeRetryPolicy, type Settlement, tapResult } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { DeadLetterStreamMissing, runJetStreamConsumer } from "../src/index.js"
import { setupRuntime } from "./runtime-support.js"
import { useTestClient, runScoped } from "./support.js"

const OrderPlaced = Schema.Struct({ type: Schema.Literal("OrderPlaced"), orderId: Schema.String, quantity: Schema.Number.pipe(Schema.int(), Schema.positive()) })
class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { orderId: Schema.String }) {}
class WarehouseDown extends Schema.TaggedError<WarehouseDown>()("WarehouseDown", {}) {}

const server = useNatsServer()
const conn = useTestClient(server)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/** Runs a handler that fails as each order asks, recording runs and settlements. */
const startWorker = async (rt: Awaited<ReturnType<typeof setupRuntime>>, behaviour: (orderId: string, run: number) => Effect.Effect<void, OutOfStock | WarehouseDown>, retry = makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 50, jitter: 0 })) => {
  const runs = new Map<string, number>()
  const processed: Array<string> = []
  const settled: Array<{ messageId: string; deliveryCount: number; settlement: Settlement; at: number }> = []
  const handler = defineHandler({
    schema: OrderPlaced,
    handle: (order) =>
      Effect.suspend(() => {
        const n = (runs.get(order.orderId) ?? 0) + 1
        runs.set(order.orderId, n)
        return behaviour(order.orderId, n)
      }).pipe(Effect.tap(() => Effect.sync(() => void processed.push(order.orderId)))),
    errors: { OutOfStock: "dead-letter", WarehouseDown: "retry" }
  })
  const running = await runScoped(
    conn.runtime,
    runJetStreamConsumer(handler, {
      consumer: rt.consumer,
      retry,
      concurrency: 4,
      deadLetters: rt.deadLetters,
      middlewares: [tapResult((d, { settlement: settlement }) => void settled.push({ messageId: d.messageId, deliveryCount: d.deliveryCount, settlement, at: Date.now() }))]
    })
  )
  return { runs, processed, settled, stop: running.close }
}

const order = (orderId: string) => ({ type: "OrderPlaced", orderId, quantity: 1 })

describe("dead letters against a real nats-server", () => {
  it("dead-letters a permanent error, malformed JSON, a schema-invalid payload and an unknown event type on the first delivery, with the whole envelope, and keeps going", async () => {
    const rt = await setupRuntime(conn)
    const worker = await startWorker(rt, (id) => (id === "poison" ? Effect.fail(new OutOfStock({ orderId: id })) : Effect.void))
    const subject = `${rt.prefix}.orders`
    const headers = { traceparent, "X-Tenant": "acme" }
    const acks = [
      await rt.publishRaw(subject, order("poison"), { msgId: "permanent", headers }),
      await rt.publishRaw(subject, "{not json", { msgId: "malformed", headers }),
      await rt.publishRaw(subject, { type: "OrderPlaced", orderId: "x", quantity: -3 }, { msgId: "invalid", headers }),
      await rt.publishRaw(subject, { type: "OrderTeleported", orderId: "x" }, { msgId: "unknown-type", headers }),
      await rt.publishRaw(subject, order("fine"), { msgId: "fine", headers })
    ]
    await eventually(async () => (await rt.letters()).length === 4 && worker.processed.includes("fine"), 15_000, "four dead letters and the good message")
    const letters = await rt.letters()
    const byId = new Map(letters.map((l) => [l.originalMessageId, l]))
    expect([...byId.keys()].sort()).toEqual(["invalid", "malformed", "permanent", "unknown-type"])
    expect(byId.get("permanent")!.errorTag).toBe("OutOfStock")
    for (const id of ["malformed", "invalid", "unknown-type"]) expect(byId.get(id)!.errorTag).toBe("DecodeFailure")
    expect(byId.get("malformed")!.errorMessage).toMatch(/malformed JSON/)
    for (const [i, id] of ["permanent", "malformed", "invalid", "unknown-type"].entries()) {
      const l = byId.get(id)!
      expect(l.attempts).toBe(1)
      expect(l.reason).toBe("permanent")
      expect(l.originalSubject).toBe(subject)
      expect(l.originalStream).toBe(rt.stream)
      expect(l.originalSequence).toBe(acks[i]!.seq)
      expect(l.consumer).toBe("worker")
      expect(l.errorMessage.length).toBeGreaterThan(0)
      expect(Date.now() - l.deadLetteredAt.getTime()).toBeLessThan(60_000)
      expect(l.headers[DeadLetterHeaders.deadLetteredAt]).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(l.headers[DeadLetterHeaders.originalTraceparent]).toBe(traceparent)
      expect(l.headers["traceparent"]).toBe(traceparent)
      expect(l.headers["X-Tenant"]).toBe("acme")
    }
    // The handler never ran for undecodable payloads, once for the permanent failure.
    expect(worker.runs.get("poison")).toBe(1)
    expect(worker.runs.get("x")).toBeUndefined()
    // Each was settled on its first delivery, and nothing is left pending.
    expect(worker.settled.filter((s) => s.settlement === "dead-lettered").every((s) => s.deliveryCount === 1)).toBe(true)
    await eventually(async () => {
      const info = await rt.consumerInfo()
      return info.num_ack_pending + info.num_pending === 0
    })
    await worker.stop()
  })

  it("dead-letters a message published with server expectations (Nats-Expected-*) that the dead-letter stream would refuse", async () => {
    const rt = await setupRuntime(conn)
    const worker = await startWorker(rt, (id) => Effect.fail(new OutOfStock({ orderId: id })))
    await rt.publishRaw(`${rt.prefix}.orders`, order("expects"), { msgId: "expects", headers: { "Nats-Expected-Stream": rt.stream } })
    await eventually(async () => (await rt.letters()).length === 1 && worker.settled.some((s) => s.settlement === "dead-lettered"), 15_000, "the dead letter, and its original terminated")
    const [letter] = await rt.letters()
    expect(letter).toMatchObject({ originalMessageId: "expects", errorTag: "OutOfStock", attempts: 1 })
    expect(worker.settled.map((s) => s.settlement)).toEqual(["dead-lettered"])
    await worker.stop()
  })

  it("dead-letters after exactly the configured attempts when every attempt fails", async () => {
    const rt = await setupRuntime(conn)
    const worker = await startWorker(rt, () => Effect.fail(new WarehouseDown()), makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 20, jitter: 0 }))
    await rt.publishRaw(`${rt.prefix}.orders`, order("always-down"), { msgId: "always-down" })
    await eventually(async () => (await rt.letters()).length === 1 && worker.settled.some((s) => s.settlement === "dead-lettered"), 15_000, "the dead letter, and its original terminated")
    const [letter] = await rt.letters()
    expect(letter).toMatchObject({ reason: "attempts-exhausted", errorTag: "WarehouseDown", attempts: 3, originalMessageId: "always-down" })
    expect(worker.runs.get("always-down")).toBe(3)
    expect(worker.settled.map((s) => [s.deliveryCount, s.settlement])).toEqual([
      [1, "retried"],
      [2, "retried"],
      [3, "dead-lettered"]
    ])
    await worker.stop()
  })

  it("processes once a handler that fails three times then succeeds: four deliveries, gaps per the policy, no dead letter", async () => {
    const rt = await setupRuntime(conn)
    const retry = makeRetryPolicy({ maxAttempts: 5, initialDelayMs: 100, multiplier: 2, maxDelayMs: 10_000, jitter: 0 })
    const worker = await startWorker(rt, (_, run) => (run <= 3 ? Effect.fail(new WarehouseDown()) : Effect.void), retry)
    await rt.publishRaw(`${rt.prefix}.orders`, order("flaky"), { msgId: "flaky" })
    // Settled, not just handled: the ack is confirmed after the handler returns.
    await eventually(() => worker.settled.some((s) => s.settlement === "acked"), 15_000, "the message processed and acked")
    expect(worker.processed).toEqual(["flaky"])
    expect(worker.runs.get("flaky")).toBe(4)
    expect(worker.settled.map((s) => [s.deliveryCount, s.settlement])).toEqual([
      [1, "retried"],
      [2, "retried"],
      [3, "retried"],
      [4, "acked"]
    ])
    // The broker held each retry back at least as long as the policy asked (100, 200, 400 ms).
    const gaps = worker.settled.slice(1).map((s, i) => s.at - worker.settled[i]!.at)
    expect(gaps[0]).toBeGreaterThanOrEqual(100)
    expect(gaps[1]).toBeGreaterThanOrEqual(200)
    expect(gaps[2]).toBeGreaterThanOrEqual(400)
    expect(await rt.letters()).toEqual([])
    await worker.stop()
  })

  it("dead-letters a message that arrives past its attempts without running the handler", async () => {
    const rt = await setupRuntime(conn)
    await rt.publishRaw(`${rt.prefix}.orders`, order("zombie"), { msgId: "zombie" })
    // Three deliveries that never settled (as if each crashed the worker): nak'ed at once here.
    const raw = await conn.client.js.consumers.get(rt.stream, "worker")
    for (let i = 0; i < 3; i++) {
      const m = await raw.next({ expires: 5_000 })
      expect(m?.info.deliveryCount).toBe(i + 1)
      m!.nak()
    }
    const worker = await startWorker(rt, () => Effect.void, makeRetryPolicy({ maxAttempts: 2, initialDelayMs: 20 }))
    await eventually(async () => (await rt.letters()).length === 1, 15_000, "the dead letter")
    const [letter] = await rt.letters()
    expect(letter).toMatchObject({ reason: "attempts-exhausted", errorTag: "AttemptsExhausted", attempts: 4 })
    expect(worker.runs.get("zombie")).toBeUndefined()
    await worker.stop()
  })
  it("fails at start with one line naming a dead-letter stream that does not exist, before pulling anything", async () => {
    const rt = await setupRuntime(conn)
    await rt.publishRaw(`${rt.prefix}.orders`, order("early"), { msgId: "early" })
    const handler = defineHandler({ schema: OrderPlaced, handle: () => Effect.void, errors: {} })
    const missing = `${rt.stream}_NO_DLQ`
    const started = conn.runtime.runPromise(
      Effect.flip(Effect.scoped(runJetStreamConsumer(handler, { consumer: rt.consumer, retry: makeRetryPolicy({ maxAttempts: 3 }), deadLetters: { stream: missing, subjectPrefix: "nowhere" } })))
    )
    const error = await started
    expect(error).toBeInstanceOf(DeadLetterStreamMissing)
    expect(error.message).toBe(`consumer ${rt.stream}/worker: dead-letter stream ${missing} does not exist (ensure deadLetterTopology() before starting consumers)`)
    expect((await rt.consumerInfo()).delivered.stream_seq).toBe(0)
  })
})
