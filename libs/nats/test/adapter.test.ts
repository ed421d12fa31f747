import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy, Publisher, publishEvent } from "@conveyor/messaging"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology, mergeTopologies } from "@conveyor/topology"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { deadLetterTopology, ensureTopology, JetStreamPublisherLive, runJetStreamConsumer } from "../src/index.js"
import { useTestClient, runScoped } from "./support.js"

const OrderPlaced = Schema.Struct({ orderId: Schema.String, quantity: Schema.Number.pipe(Schema.int(), Schema.positive()) })
type OrderPlaced = typeof OrderPlaced.Type

const server = useNatsServer()
const conn = useTestClient(server)

const setup = async (opts: { durables: ReadonlyArray<string> } = { durables: ["worker"] }) => {
  const stream = uniqueName("S")
  const prefix = stream.toLowerCase()
  const topology = defineTopology({
    streams: [{ name: stream, subjects: [`${prefix}.>`] }],
    consumers: opts.durables.map((durable) => ({ stream, durable, filterSubjects: [`${prefix}.>`], ackWaitMs: 5_000 }))
  })
  await conn.runtime.runPromise(ensureTopology(mergeTopologies(topology, deadLetterTopology()))) // consumers refuse to start without it
  return { stream, subject: `${prefix}.placed`, topology }
}

const publish = (subject: string, value: OrderPlaced, options: { msgId?: string; headers?: Record<string, string> } = {}) =>
  conn.runtime.runPromise(publishEvent(OrderPlaced, subject, value, options).pipe(Effect.provide(JetStreamPublisherLive)))

const retry = makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100 })

/** Starts a runner that records what it handled. */
const startRecorder = async (topology: Awaited<ReturnType<typeof setup>>["topology"], durable: string, options: { concurrency?: number } = {}) => {
  const seen: Array<{ event: OrderPlaced; headers: Record<string, string>; seq: number }> = []
  const handler = defineHandler({
    schema: OrderPlaced,
    handle: (event, ctx) => Effect.sync(() => void seen.push({ event, headers: { ...ctx.delivery.headers }, seq: ctx.delivery.streamSequence })),
    errors: {}
  })
  const consumer = topology.consumers.find((c) => c.durable === durable)!
  const running = await runScoped(conn.runtime, runJetStreamConsumer(handler, { consumer, retry, concurrency: options.concurrency ?? 4 }))
  return { seen, stop: running.close, running: running.value }
}

describe("JetStream adapter against a real nats-server", () => {
  it("round-trips a typed event with its headers", async () => {
    const { topology, subject } = await setup()
    const ack = await publish(subject, { orderId: "o-1", quantity: 2 }, { msgId: "m-1", headers: { "X-Tenant": "acme" } })
    expect(ack).toMatchObject({ seq: 1, duplicate: false })
    const r = await startRecorder(topology, "worker")
    await eventually(() => r.seen.length === 1)
    expect(r.seen[0]!.event).toEqual({ orderId: "o-1", quantity: 2 })
    expect(r.seen[0]!.headers["X-Tenant"]).toBe("acme")
    expect(r.seen[0]!.headers["Nats-Msg-Id"]).toBe("m-1")
    await r.stop()
  })

  it("stores a message id published twice once", async () => {
    const { stream, subject } = await setup()
    const first = await publish(subject, { orderId: "o", quantity: 1 }, { msgId: "same" })
    const second = await publish(subject, { orderId: "o", quantity: 1 }, { msgId: "same" })
    expect(first.duplicate).toBe(false)
    expect(second).toEqual({ stream, seq: first.seq, duplicate: true })
    const info = await conn.client.jsm.streams.info(stream)
    expect(info.state.messages).toBe(1)
  })

  it("splits one durable's messages between competing runners, each processed once", async () => {
    const { topology, subject } = await setup()
    const a = await startRecorder(topology, "worker", { concurrency: 2 })
    const b = await startRecorder(topology, "worker", { concurrency: 2 })
    const n = 200
    await conn.runtime.runPromise(
      Effect.flatMap(Publisher, (p) =>
        p.publishAll(Array.from({ length: n }, (_, i) => ({ subject, payload: new TextEncoder().encode(JSON.stringify({ orderId: `o-${i}`, quantity: 1 })), msgId: `c-${i}` })), { maxInFlight: 16 })
      ).pipe(Effect.provide(JetStreamPublisherLive))
    )
    await eventually(() => a.seen.length + b.seen.length >= n)
    await new Promise((r) => setTimeout(r, 300))
    const ids = [...a.seen, ...b.seen].map((s) => s.event.orderId)
    expect(ids).toHaveLength(n)
    expect(new Set(ids).size).toBe(n)
    expect(a.seen.length).toBeGreaterThan(0)
    expect(b.seen.length).toBeGreaterThan(0)
    await a.stop()
    await b.stop()
  })

  it("gives every message to each of two durables (publish-subscribe)", async () => {
    const { topology, subject } = await setup({ durables: ["audit", "billing"] })
    const audit = await startRecorder(topology, "audit")
    const billing = await startRecorder(topology, "billing")
    for (let i = 0; i < 20; i++) await publish(subject, { orderId: `p-${i}`, quantity: 1 })
    await eventually(() => audit.seen.length === 20 && billing.seen.length === 20)
    expect(audit.seen.map((s) => s.event.orderId).sort()).toEqual(billing.seen.map((s) => s.event.orderId).sort())
    await audit.stop()
    await billing.stop()
  })

  it("keeps messages published while no consumer runs and delivers them in order later", async () => {
    const { topology, subject } = await setup()
    for (let i = 0; i < 30; i++) await publish(subject, { orderId: `d-${i}`, quantity: 1 })
    const r = await startRecorder(topology, "worker", { concurrency: 1 })
    await eventually(() => r.seen.length === 30)
    expect(r.seen.map((s) => s.event.orderId)).toEqual(Array.from({ length: 30 }, (_, i) => `d-${i}`))
    await r.stop()
  })

  it("resumes after the last ack when a runner restarts", async () => {
    const { topology, subject, stream } = await setup()
    for (let i = 0; i < 10; i++) await publish(subject, { orderId: `r-${i}`, quantity: 1 })
    const first = await startRecorder(topology, "worker", { concurrency: 1 })
    await eventually(() => first.seen.length === 10)
    await first.stop()
    for (let i = 10; i < 15; i++) await publish(subject, { orderId: `r-${i}`, quantity: 1 })
    const second = await startRecorder(topology, "worker", { concurrency: 1 })
    await eventually(() => second.seen.length === 5)
    expect(second.seen.map((s) => s.event.orderId)).toEqual(["r-10", "r-11", "r-12", "r-13", "r-14"])
    await second.stop()
    const info = await conn.client.jsm.consumers.info(stream, "worker")
    expect(info.num_pending + info.num_ack_pending).toBe(0)
  })
})
