import { useTestClient } from "@conveyor/nats/testing"
import { makeJsonBucket, type JsonBucket } from "@conveyor/orchestration"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { Kvm } from "@nats-io/kv"
import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ReserveStock } from "@conveyor/domain"
import { type Inventory, makeInventory, reserveStock } from "../src/inventory.js"
import { Reservation, SkuStock } from "../src/stock.js"
import { skuLedger } from "./support.js"

// Many orders reserving one SKU at once (a popular product): every reservation is a
// compare-and-set on the SKU's value. Handlers of one worker writing it at the same time must not
// make each other lose the race (n(n+1)/2 writes for n reservations, and handlers failing after 50
// lost races); two workers (replicas) writing it must lose no reservation either.
const server = useNatsServer()
const conn = useTestClient(server)

/** The stock bucket, counting every compare-and-set write and every one that lost its race. */
const countedBucket = async () => {
  const name = uniqueName("stock").toLowerCase()
  await new Kvm(conn.client.js).create(name, { history: 1 })
  const bucket = makeJsonBucket(conn.client, await new Kvm(conn.client.js).open(name), name, SkuStock)
  const counts = { writes: 0, conflicts: 0 }
  const count = <A, E extends { readonly _tag: string }>(write: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      counts.writes++
      return Effect.tapError(write, (e) => Effect.sync(() => void (e._tag === "RevisionConflict" && counts.conflicts++)))
    })
  const counted: JsonBucket<SkuStock> = {
    ...bucket,
    create: (key, value) => count(bucket.create(key, value)),
    update: (key, value, revision) => count(bucket.update(key, value, revision))
  }
  return { bucket: counted, counts, records: makeJsonBucket(conn.client, bucket.kv, name, Reservation) }
}

const STOCK = 1_000
const inventoryOn = ({ bucket, records }: { bucket: JsonBucket<SkuStock>; records: JsonBucket<Reservation> }): Inventory => makeInventory(bucket, records, STOCK)
/** What each order holds of the bestseller: holds still in the SKU's value, and those records confirm. */
const holdings = (env: { bucket: JsonBucket<SkuStock>; records: JsonBucket<Reservation> }) => skuLedger(env.bucket, env.records, "bestseller", STOCK)
const reserve = (inventory: Inventory, orderId: string) =>
  reserveStock(inventory, ReserveStock.make({ orderId, attempt: 1, items: [{ sku: "bestseller", quantity: 1, unitPriceCents: 100 }] }))

describe("a SKU reserved by many orders at once", () => {
  it("one worker: reservations that come while the SKU is written are stored together, no lost races", async () => {
    const env = await countedBucket()
    const { counts } = env
    const inventory = inventoryOn(env)
    const orders = Array.from({ length: 32 }, (_, i) => `one-${i}`)
    const results = await Effect.runPromise(Effect.forEach(orders, (o) => reserve(inventory, o), { concurrency: "unbounded" }))
    expect(results.every((r) => r.ok)).toBe(true)
    const { value: stored, holds } = await holdings(env)
    expect(stored.available).toBe(STOCK - orders.length)
    expect(holds).toEqual(Object.fromEntries(orders.map((o) => [o, 1])))
    // The first write alone, then everything that came meanwhile in one: before, 32 handlers at
    // once made 528 write attempts (496 lost races), and some gave up after 50.
    expect(counts.conflicts).toBe(0)
    expect(counts.writes).toBeLessThanOrEqual(2)
  })

  it("two workers: every reservation held once, lost races bounded by the writes", async () => {
    const env = await countedBucket()
    const { counts } = env
    const [a, b] = [inventoryOn(env), inventoryOn(env)]
    const orders = Array.from({ length: 64 }, (_, i) => `two-${i}`)
    const results = await Effect.runPromise(Effect.forEach(orders, (o, i) => reserve(i % 2 === 0 ? a : b, o), { concurrency: "unbounded" }))
    expect(results.every((r) => r.ok)).toBe(true)
    const { value: stored, holds } = await holdings(env)
    expect(stored.available).toBe(STOCK - orders.length)
    expect(holds).toEqual(Object.fromEntries(orders.map((o) => [o, 1])))
    // Each worker has one write of the SKU in flight at a time: a race is lost only to the other
    // worker's write, and a lost race takes the decisions waiting since into the retry.
    expect(counts.conflicts).toBeLessThan(orders.length / 2)
    expect(counts.writes).toBeLessThan(orders.length)
  })

  it("a reservation repeated in the same batch holds once", async () => {
    const env = await countedBucket()
    const inventory = inventoryOn(env)
    const results = await Effect.runPromise(Effect.forEach(["dup", "dup", "other", "dup"], (o) => reserve(inventory, o), { concurrency: "unbounded" }))
    expect(results.every((r) => r.ok)).toBe(true)
    const { value: stored, holds } = await holdings(env)
    expect(holds).toEqual({ dup: 1, other: 1 })
    expect(stored.available).toBe(STOCK - 2)
  })
})
