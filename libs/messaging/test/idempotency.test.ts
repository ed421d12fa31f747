import { Deferred, Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { type IdempotencyStoreShape, makeMemoryIdempotencyStore, StoreUnavailable } from "../src/idempotency.js"
import { idempotency } from "../src/internal/stages/idempotency.js"
import type { OutgoingMessage } from "../src/outgoing.js"
import { failed, type Outcome } from "../src/outcome.js"
import type { ProcessDelivery } from "../src/internal/stage.js"
import { fakeDelivery } from "./fake-delivery.js"

const out: OutgoingMessage = { subject: "orders.reserved", payload: new Uint8Array([1, 2]), msgId: "m-1>reserved" }
const options = { leaseMs: 1_000, unavailableDelayMs: 750, keyPrefix: "worker." }

/** A handler step that counts its runs and returns `outcome`. */
const counting = (outcome: Outcome = { _tag: "Processed", outputs: [out] }) => {
  const runs = { count: 0 }
  const step: ProcessDelivery = () => Effect.sync(() => (runs.count++, outcome))
  return { runs, step }
}

describe("idempotency middleware (in-memory store)", () => {
  it("runs the handler once per message id; a redelivery is a Duplicate carrying the recorded outputs", async () => {
    const store = makeMemoryIdempotencyStore()
    const { runs, step } = counting()
    const guarded = idempotency({ store: store, ...options })(step)
    expect(await Effect.runPromise(guarded(fakeDelivery({})))).toEqual({ _tag: "Processed", outputs: [out] })
    expect(await Effect.runPromise(guarded(fakeDelivery({}, { deliveryCount: 2 })))).toEqual({ _tag: "Duplicate", outputs: [out] })
    expect(runs.count).toBe(1)
    // Another message id runs again.
    await Effect.runPromise(guarded(fakeDelivery({}, { messageId: "m-2" })))
    expect(runs.count).toBe(2)
  })

  it("never runs two deliveries of one id at once: the second is deferred while the first holds the claim", async () => {
    const store = makeMemoryIdempotencyStore()
    const program = Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      let runs = 0
      const guarded = idempotency({ store: store, ...options })(() => Effect.as(Effect.zipRight(Effect.sync(() => runs++), Deferred.await(gate)), { _tag: "Processed", outputs: [] } as Outcome))
      const first = yield* Effect.fork(guarded(fakeDelivery({})))
      yield* Effect.yieldNow()
      const second = yield* guarded(fakeDelivery({}, { deliveryCount: 2 }))
      yield* Deferred.succeed(gate, undefined)
      return { first: yield* first.await, second, runs }
    })
    const { second, runs } = await Effect.runPromise(program)
    expect(second._tag).toBe("Deferred")
    if (second._tag === "Deferred") expect(second.delayMs).toBeGreaterThan(0)
    expect(runs).toBe(1)
  })

  it("lets a delivery take over an expired lease; the first one then cannot commit (ClaimLost → LostOwnership)", async () => {
    let clock = 0
    const store = makeMemoryIdempotencyStore({ now: () => clock })
    let takeover: string | undefined
    // The first delivery's handler overruns its lease, and a redelivery claims the id meanwhile.
    const overrunning: ProcessDelivery = (d) =>
      Effect.gen(function* () {
        clock += 5_000
        takeover = (yield* Effect.orDie(store.claim(`worker.${d.messageId}`, 1_000)))._tag
        return { _tag: "Processed", outputs: [] } as Outcome
      })
    const outcome = await Effect.runPromise(idempotency({ store: store, ...options })(overrunning)(fakeDelivery({})))
    expect(takeover).toBe("Claimed")
    expect(outcome).toEqual({ _tag: "LostOwnership" })
  })

  it("releases the claim after a failure so the next delivery runs at once", async () => {
    const store = makeMemoryIdempotencyStore()
    let fail = true
    let runs = 0
    const guarded = idempotency({ store: store, ...options })(() =>
      Effect.sync(() => (runs++, fail ? failed("retry", "Blip", "down") : ({ _tag: "Processed", outputs: [] } as Outcome)))
    )
    expect((await Effect.runPromise(guarded(fakeDelivery({}))))._tag).toBe("Failed")
    fail = false
    expect((await Effect.runPromise(guarded(fakeDelivery({}, { deliveryCount: 2 }))))._tag).toBe("Processed")
    expect(runs).toBe(2)
  })

  it("defers without running the handler when the store is unavailable", async () => {
    const down: IdempotencyStoreShape = {
      ttlMs: 60_000,
      claim: () => Effect.fail(new StoreUnavailable({ reason: "bucket gone" })),
      complete: () => Effect.fail(new StoreUnavailable({ reason: "bucket gone" })),
      release: () => Effect.fail(new StoreUnavailable({ reason: "bucket gone" }))
    }
    const { runs, step } = counting()
    const outcome = await Effect.runPromise(idempotency({ store: down, ...options })(step)(fakeDelivery({})))
    expect(outcome).toMatchObject({ _tag: "Deferred", delayMs: 750 })
    expect(outcome._tag === "Deferred" && outcome.reason).toMatch(/bucket gone/)
    expect(runs.count).toBe(0)
  })

  it("retries writing the record with the claim's token before acking: the id is done, a redelivery is a Duplicate", async () => {
    const base = makeMemoryIdempotencyStore()
    let failures = 0
    const flaky: IdempotencyStoreShape = {
      ...base,
      complete: (claim, outputs) =>
        Effect.suspend(() => (++failures <= 3 ? Effect.fail(new StoreUnavailable({ reason: "timeout" })) : base.complete(claim, outputs)))
    }
    const { runs, step } = counting()
    const guarded = idempotency({ store: flaky, ...options, unavailableDelayMs: 5 })(step)
    expect(await Effect.runPromise(guarded(fakeDelivery({})))).toEqual({ _tag: "Processed", outputs: [out] })
    expect(failures).toBe(4)
    expect(await Effect.runPromise(guarded(fakeDelivery({}, { deliveryCount: 2 })))).toEqual({ _tag: "Duplicate", outputs: [out] })
    expect(runs.count).toBe(1)
  })

  it("keys records by prefix and message id, so two consumers of one message each run once", async () => {
    const store = makeMemoryIdempotencyStore()
    const { runs, step } = counting()
    await Effect.runPromise(idempotency({ store: store, ...options, keyPrefix: "audit." })(step)(fakeDelivery({})))
    await Effect.runPromise(idempotency({ store: store, ...options, keyPrefix: "billing." })(step)(fakeDelivery({})))
    expect(runs.count).toBe(2)
  })
})

describe("in-memory idempotency store", () => {
  it("claims atomically, fences by token and forgets done records after the TTL", async () => {
    let clock = 0
    const store = makeMemoryIdempotencyStore({ ttlMs: 10_000, now: () => clock })
    const a = Effect.runSync(store.claim("k", 1_000))
    expect(a._tag).toBe("Claimed")
    expect(Effect.runSync(store.claim("k", 1_000))._tag).toBe("HeldElsewhere")
    clock = 2_000
    const b = Effect.runSync(store.claim("k", 1_000))
    expect(b._tag).toBe("Claimed")
    if (a._tag !== "Claimed" || b._tag !== "Claimed") throw new Error("unreachable")
    expect(Effect.runSync(Effect.flip(store.complete(a.claim, [])))._tag).toBe("ClaimLost")
    Effect.runSync(store.complete(b.claim, [out]))
    expect(Effect.runSync(store.claim("k", 1_000))).toEqual({ _tag: "AlreadyDone", outputs: [out] })
    clock = 2_000 + 10_001
    expect(Effect.runSync(store.claim("k", 1_000))._tag).toBe("Claimed")
  })

  it("stays bounded, evicting the oldest entries", () => {
    const store = makeMemoryIdempotencyStore({ maxEntries: 2 })
    for (const k of ["a", "b", "c"]) {
      const c = Effect.runSync(store.claim(k, 1_000))
      if (c._tag === "Claimed") Effect.runSync(store.complete(c.claim, []))
    }
    expect(Effect.runSync(store.claim("a", 1_000))._tag).toBe("Claimed")
    expect(Effect.runSync(store.claim("c", 1_000))._tag).toBe("AlreadyDone")
  })
})
