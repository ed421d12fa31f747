import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { headers } from "@nats-io/transport-node"
import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { makePubAckPipeline } from "../src/internal/pub-ack-pipeline.js"
import { openClient, useTestClient } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const stream = async () => {
  const name = uniqueName("PIPE")
  await conn.client.jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], duplicate_window: 60_000_000_000 })
  return { name, subject: `${name.toLowerCase()}.a` }
}
const data = new TextEncoder().encode("x")
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(Effect.either(e))

describe("PubAck pipeline against a real nats-server", () => {
  it("returns each message's stream and sequence, in any number at once, and flags a duplicate Nats-Msg-Id", async () => {
    const { name, subject } = await stream()
    const pipeline = makePubAckPipeline(conn.client.nc, { inboxPrefix: conn.client.inboxPrefix, timeoutMs: 5_000 })
    const acks = await Effect.runPromise(Effect.all(Array.from({ length: 500 }, () => pipeline.publishEffect(subject, data)), { concurrency: "unbounded" }))
    expect(acks.every((a) => a.stream === name)).toBe(true)
    expect(new Set(acks.map((a) => a.seq)).size).toBe(500)
    const h = () => {
      const x = headers()
      x.set("Nats-Msg-Id", "once")
      return x
    }
    const first = await Effect.runPromise(pipeline.publishEffect(subject, data, h()))
    const again = await Effect.runPromise(pipeline.publishEffect(subject, data, h()))
    expect([first.duplicate, again.duplicate, again.seq]).toEqual([false, true, first.seq])
    expect(pipeline.pending()).toBe(0)
  })

  it("reports JetStream's error code (wrong last sequence) and no responders for a subject no stream takes", async () => {
    const { subject } = await stream()
    const pipeline = makePubAckPipeline(conn.client.nc, { inboxPrefix: conn.client.inboxPrefix, timeoutMs: 5_000 })
    const expect0 = headers()
    expect0.set("Nats-Expected-Last-Subject-Sequence", "0")
    await Effect.runPromise(pipeline.publishEffect(subject, data, expect0))
    const conflict = await run(pipeline.publishEffect(subject, data, expect0))
    expect(conflict._tag === "Left" && conflict.left.errCode).toBe(10071)
    const nobody = await run(pipeline.publishEffect(`${uniqueName("nostream").toLowerCase()}.x`, data))
    expect(nobody._tag === "Left" && nobody.left.status).toBe(503)
  })

  it("times out a publish nobody acknowledges (a plain subscriber, no stream) instead of waiting forever", async () => {
    const subject = `${uniqueName("plain").toLowerCase()}.x`
    const sub = conn.client.nc.subscribe(subject, { callback: () => undefined })
    await conn.client.nc.flush()
    const pipeline = makePubAckPipeline(conn.client.nc, { inboxPrefix: conn.client.inboxPrefix, timeoutMs: 300 })
    const r = await run(pipeline.publishEffect(subject, data))
    sub.unsubscribe()
    expect(r._tag === "Left" && r.left.timedOut).toBe(true)
    expect(pipeline.pending()).toBe(0)
  })

  it("fails at once on a closed connection", async () => {
    const own = await openClient(server.url, "closed")
    const pipeline = makePubAckPipeline(own.client.nc, { inboxPrefix: own.client.inboxPrefix, timeoutMs: 5_000 })
    await own.close()
    const r = await run(pipeline.publishEffect("anything.x", data))
    expect(r._tag === "Left" && r.left.message).toBe("connection closed")
  })
})
