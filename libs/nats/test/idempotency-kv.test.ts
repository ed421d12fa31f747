import { Kvm } from "@nats-io/kv"
import { defineHandler, makeRetryPolicy, type OutgoingMessage } from "@conveyor/messaging"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ensureTopology, makeKvIdempotencyStore, openKvIdempotencyStore, runJetStreamConsumer } from "../src/index.js"
import { useTestClient, runScoped } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const bucket = async (ttlMs = 60_000) => {
  const name = uniqueName("IDEM")
  await conn.runtime.runPromise(ensureTopology(defineTopology({ buckets: [{ name, ttlMs, storage: "memory" }] })))
  return name
}
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const output: OutgoingMessage = { subject: "orders.reserved", payload: new Uint8Array([0, 1, 254, 255]), msgId: "m-1>reserved", headers: { traceparent: "00-abc-def-01" } }

describe("KV idempotency store against a real nats-server", () => {
  it("reads its TTL from the bucket", async () => {
    const name = await bucket(90_000)
    const store = await run(openKvIdempotencyStore(conn.client, name))
    expect(store.ttlMs).toBe(90_000)
  })

  it("claims atomically: of two concurrent claims of one id exactly one wins", async () => {
    const store = await run(openKvIdempotencyStore(conn.client, await bucket()))
    for (let i = 0; i < 5; i++) {
      const results = await run(Effect.all([store.claim(`id-${i}`, 5_000), store.claim(`id-${i}`, 5_000)], { concurrency: 2 }))
      expect(results.map((r) => r._tag).sort()).toEqual(["Claimed", "HeldElsewhere"])
      const held = results.find((r) => r._tag === "HeldElsewhere")
      expect(held?._tag === "HeldElsewhere" && held.retryInMs).toBeGreaterThan(0)
    }
  })

  it("records outputs on completion; a later claim is AlreadyDone with them, byte for byte", async () => {
    const store = await run(openKvIdempotencyStore(conn.client, await bucket()))
    const c = await run(store.claim("order-1", 5_000))
    if (c._tag !== "Claimed") throw new Error(`expected a claim, got ${c._tag}`)
    await run(store.complete(c.claim, [output]))
    expect(await run(store.claim("order-1", 5_000))).toEqual({ _tag: "AlreadyDone", outputs: [output] })
  })

  it("lets another delivery take over an expired lease, and fences the stale one (ClaimLost)", async () => {
    let clock = Date.now()
    const name = await bucket()
    const kv = await new Kvm(conn.client.js).open(name)
    const store = makeKvIdempotencyStore({ client: conn.client, kv, bucket: name, ttlMs: 60_000, now: () => clock })
    const first = await run(store.claim("order-2", 1_000))
    expect((await run(store.claim("order-2", 1_000)))._tag).toBe("HeldElsewhere")
    clock += 2_000 // the first lease has expired
    const second = await run(store.claim("order-2", 1_000))
    if (first._tag !== "Claimed" || second._tag !== "Claimed") throw new Error("expected both claims to succeed")
    expect(second.claim.token).toBeGreaterThan(first.claim.token)
    const stale = await run(Effect.flip(store.complete(first.claim, [])))
    expect(stale._tag).toBe("ClaimLost")
    await run(store.complete(second.claim, [output]))
    expect((await run(store.claim("order-2", 1_000)))._tag).toBe("AlreadyDone")
  })

  it("gives the id back on release, so the next delivery claims it at once; a stale release changes nothing", async () => {
    const store = await run(openKvIdempotencyStore(conn.client, await bucket()))
    const a = await run(store.claim("order-3", 10_000))
    if (a._tag !== "Claimed") throw new Error("expected a claim")
    await run(store.release(a.claim))
    const b = await run(store.claim("order-3", 10_000))
    expect(b._tag).toBe("Claimed")
    await run(store.release(a.claim)) // stale token: must not release b's claim
    expect((await run(store.claim("order-3", 10_000)))._tag).toBe("HeldElsewhere")
  })

  it("reports StoreUnavailable for a missing bucket and when the bucket disappears under it", async () => {
    const missing = await run(Effect.flip(openKvIdempotencyStore(conn.client, uniqueName("NOPE"))))
    expect(missing._tag).toBe("StoreUnavailable")
    const name = await bucket()
    const store = await run(openKvIdempotencyStore(conn.client, name))
    await new Kvm(conn.client.js).open(name).then((kv) => kv.destroy())
    const gone = await run(Effect.flip(store.claim("order-4", 1_000)))
    expect(gone._tag).toBe("StoreUnavailable")
  })

  it("start-up refuses a store whose TTL is shorter than the consumer's redelivery window", async () => {
    const stream = uniqueName("S")
    const topology = defineTopology({
      streams: [{ name: stream, subjects: [`${stream.toLowerCase()}.>`] }],
      consumers: [{ stream, durable: "w", ackWaitMs: 30_000 }]
    })
    await conn.runtime.runPromise(ensureTopology(topology))
    const store = await run(openKvIdempotencyStore(conn.client, await bucket(60_000)))
    const handler = defineHandler({ schema: Schema.Unknown, handle: () => Effect.void, errors: {} })
    const refused = await runScoped(
      conn.runtime,
      Effect.flip(runJetStreamConsumer(handler, { consumer: topology.consumers[0]!, retry: makeRetryPolicy({ maxAttempts: 5 }), idempotency: store }))
    )
    expect(refused.value).toMatchObject({ _tag: "InvalidConsumerConfig" })
    expect(refused.value.message).toMatch(/shorter than the redelivery window/)
    await refused.close()
    // And a max_deliver below the policy's attempts: the server would give up before the dead letter.
    const capped = defineTopology({ streams: [], consumers: [{ stream, durable: "capped", ackWaitMs: 30_000, maxDeliver: 2 }] })
    await conn.runtime.runPromise(ensureTopology(capped))
    const tooFew = await runScoped(conn.runtime, Effect.flip(runJetStreamConsumer(handler, { consumer: capped.consumers[0]!, retry: makeRetryPolicy({ maxAttempts: 5 }) })))
    expect(tooFew.value.message).toMatch(/max_deliver 2 is below/)
    await tooFew.close()
  })
})
