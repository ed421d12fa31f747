import { useTestClient } from "@conveyor/nats/testing"
import { makeJsonBucket } from "@conveyor/orchestration"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { Kvm } from "@nats-io/kv"
import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ReleaseStock, ReserveStock } from "@conveyor/domain"
import { type Inventory, makeInventory, releaseStock, reserveStock, SWEEP_AT } from "../src/inventory.js"
import { eventually } from "@conveyor/testing"
import { giveBack, hold, Reservation, reservationKey, skuKey, SkuStock } from "../src/stock.js"
import { skuLedger } from "./support.js"

// The reservation protocol under the faults it must survive: an attempt that crashed between its
// holds and its record, a redelivery after the SKU dropped the order's entries, a release that
// crashed half-way, stale reservations after a release, and reservations racing releases. After
// each, every order holds what its record says, once, and free + held = the starting stock.
const server = useNatsServer()
const conn = useTestClient(server)
const STOCK = 100

const setUp = async () => {
  const name = uniqueName("stock").toLowerCase()
  const kv = await new Kvm(conn.client.js).create(name, { history: 1 })
  const stock = makeJsonBucket(conn.client, kv, name, SkuStock)
  const records = makeJsonBucket(conn.client, kv, name, Reservation)
  return { stock, records, inventory: makeInventory(stock, records, STOCK) }
}
type Env = Awaited<ReturnType<typeof setUp>>

const items = (...skus: Array<string>) => skus.map((sku) => ({ sku, quantity: 3, unitPriceCents: 1 }))
const reserve = (inventory: Inventory, orderId: string, lines = items("a")) =>
  Effect.runPromise(reserveStock(inventory, ReserveStock.make({ orderId, attempt: 1, items: lines })))
const release = (inventory: Inventory, orderId: string, lines = items("a")) =>
  Effect.runPromise(releaseStock(inventory, ReleaseStock.make({ orderId, attempt: 1, items: lines })))
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const ledger = (env: Env, sku: string) => skuLedger(env.stock, env.records, sku, STOCK)

/** The SKU's next write in this process (another order), which takes the entries due with it. */
const nextWrite = (inventory: Inventory, sku = "a") => reserve(inventory, `other-${Math.random().toString(36).slice(2)}`, items(sku))

describe("reservation records", () => {
  it("a confirmed hold leaves the SKU's value with its next write, still held by the record", async () => {
    const env = await setUp()
    expect(await reserve(env.inventory, "o1")).toEqual({ ok: true })
    expect((await ledger(env, "a")).value.held).toEqual({ o1: 3 })
    await nextWrite(env.inventory)
    const { value, holds, records } = await ledger(env, "a")
    expect(value.held.o1).toBeUndefined()
    expect(holds.o1).toBe(3)
    expect(records.get("o1")).toMatchObject({ _tag: "Held", lines: [{ sku: "a", quantity: 3 }] })
  })

  it("a decision that writes nothing (a refusal) leaves the entries due for the next write", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1")
    expect(await reserve(env.inventory, "o2", [{ sku: "a", quantity: STOCK, unitPriceCents: 1 }])).toMatchObject({ ok: false })
    await nextWrite(env.inventory)
    expect((await ledger(env, "a")).value.held.o1).toBeUndefined()
  })

  it("an attempt that crashed between its holds and its record: the next one confirms those holds", async () => {
    const env = await setUp()
    await run(env.stock.create(skuKey("a"), hold({ available: STOCK, held: {}, closed: [], by: {}, dropped: 0 }, "o1", 3, "crashed").next!))
    expect(await reserve(env.inventory, "o1")).toEqual({ ok: true })
    const { holds, records } = await ledger(env, "a")
    expect(holds).toEqual({ o1: 3 })
    expect(records.get("o1")).toMatchObject({ _tag: "Held", lines: [{ sku: "a", by: "crashed" }] })
  })

  it("a redelivery after the hold left the SKU's value holds nothing twice", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1")
    await nextWrite(env.inventory)
    expect(await reserve(env.inventory, "o1")).toEqual({ ok: true })
    const { value, holds } = await ledger(env, "a")
    expect(value.held.o1).toBeUndefined()
    expect(holds.o1).toBe(3)
  })

  it("a second hold left by an attempt that crashed before undoing it goes back with the release", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1")
    await nextWrite(env.inventory)
    await run(env.stock.modify(skuKey("a"), (s) => hold(s!, "o1", 3, "stray")))
    expect((await ledger(env, "a")).holds.o1).toBe(6)
    await release(env.inventory, "o1")
    const { value, holds } = await ledger(env, "a")
    expect(holds.o1).toBeUndefined()
    expect(value.available).toBe(STOCK - 3)
  })

  it("a reservation after the release, and a release again, once the marks are gone: nothing held, nothing freed twice", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1", items("a", "b"))
    await release(env.inventory, "o1", items("a", "b"))
    await nextWrite(env.inventory, "a")
    await nextWrite(env.inventory, "b")
    for (const sku of ["a", "b"]) expect((await ledger(env, sku)).value.closed).toEqual([])
    expect(await reserve(env.inventory, "o1", items("a", "b"))).toEqual({ ok: false, reason: "the order's stock was already released" })
    await release(env.inventory, "o1", items("a", "b"))
    for (const sku of ["a", "b"]) {
      const { value, holds } = await ledger(env, sku)
      expect(holds.o1).toBeUndefined()
      expect(value.available).toBe(STOCK - 3)
    }
  })

  it("a release that crashed after giving back one SKU finishes on redelivery, freeing each once", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1", items("a", "b"))
    await nextWrite(env.inventory, "a")
    const record = (await run(env.records.get(reservationKey("o1"))))!
    const lines = (record.value as Extract<Reservation, { _tag: "Held" }>).lines
    await run(env.records.update(reservationKey("o1"), { _tag: "Releasing", lines }, record.revision))
    await run(env.stock.modify(skuKey("a"), (s) => giveBack(s!, "o1", lines[0]!, 0)))
    await release(env.inventory, "o1", items("a", "b"))
    expect((await run(env.records.get(reservationKey("o1"))))!.value).toEqual({ _tag: "Released" })
    expect((await ledger(env, "a")).value.available).toBe(STOCK - 3)
    expect((await ledger(env, "b")).value.available).toBe(STOCK)
  })

  it("a release late behind another that finished and dropped its marks frees nothing twice", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1")
    // A second release read the record while it was still held (the count of dropped marks 0) ...
    const lines = ((await run(env.records.get(reservationKey("o1"))))!.value as Extract<Reservation, { _tag: "Held" }>).lines
    await release(env.inventory, "o1")
    await nextWrite(env.inventory)
    expect((await ledger(env, "a")).value).toMatchObject({ closed: [], dropped: 1 })
    // ... and gives back only now: told to read the record again, it frees nothing.
    expect(await run(env.stock.modify(skuKey("a"), (s) => giveBack(s!, "o1", lines[0]!, 0)))).toBe("stale")
    expect((await ledger(env, "a")).value.available).toBe(STOCK - 3)
  })

  it("a reservation redelivered while a crashed release is half-way leaves the release its holds", async () => {
    const env = await setUp()
    await reserve(env.inventory, "o1")
    const record = (await run(env.records.get(reservationKey("o1"))))!
    const lines = (record.value as Extract<Reservation, { _tag: "Held" }>).lines
    await run(env.records.update(reservationKey("o1"), { _tag: "Releasing", lines }, record.revision))
    expect(await reserve(env.inventory, "o1")).toEqual({ ok: false, reason: "the order's stock was already released" })
    await release(env.inventory, "o1")
    const { value, holds } = await ledger(env, "a")
    expect(holds).toEqual({})
    expect(value.available).toBe(STOCK)
  })

  it("a refused reservation holds nothing, and its record answers its redelivery the same", async () => {
    const env = await setUp()
    const big = [{ sku: "a", quantity: 1, unitPriceCents: 1 }, { sku: "b", quantity: STOCK + 1, unitPriceCents: 1 }]
    expect(await reserve(env.inventory, "o1", big)).toEqual({ ok: false, reason: "not enough b" })
    expect(await reserve(env.inventory, "o1", big)).toEqual({ ok: false, reason: "not enough b" })
    const { value, holds } = await ledger(env, "a")
    expect(holds).toEqual({})
    expect(value.available).toBe(STOCK)
  })

  it("reservations racing releases of the same orders, in two workers: every order ends holding nothing", async () => {
    const env = await setUp()
    const second = makeInventory(env.stock, env.records, STOCK)
    const orders = Array.from({ length: 24 }, (_, i) => `race-${i}`)
    await Promise.all(orders.flatMap((o, i) => [
      reserve(i % 2 === 0 ? env.inventory : second, o, items("a", "b")),
      release(i % 2 === 0 ? second : env.inventory, o, items("a", "b")),
      reserve(i % 3 === 0 ? env.inventory : second, o, items("a", "b")),
      release(i % 2 === 0 ? env.inventory : second, o, items("a", "b"))
    ]))
    // The releases that came first left a tombstone; the others gave back what the reservation held.
    await Promise.all(orders.map((o) => release(env.inventory, o, items("a", "b"))))
    for (const sku of ["a", "b"]) {
      const { value, holds } = await ledger(env, sku)
      expect(holds).toEqual({})
      expect(value.available).toBe(STOCK)
    }
  })

  it("order ids that name Object's own properties (constructor, toString) hold and release like any other", async () => {
    const env = await setUp()
    for (const id of ["constructor", "toString"]) {
      expect(await reserve(env.inventory, id)).toEqual({ ok: true })
      expect((await ledger(env, "a")).holds[id]).toBe(3)
      await nextWrite(env.inventory)
      await release(env.inventory, id)
      expect(Object.hasOwn((await ledger(env, "a")).holds, id)).toBe(false)
    }
    expect((await ledger(env, "a")).value.available).toBe(STOCK - 6)
  })

  it("a SKU value stored before the records: its holds are released, its closed orders stay refused", async () => {
    const env = await setUp()
    await run(env.stock.create(skuKey("a"), { available: STOCK - 5, held: { old: 5 }, closed: ["gone"], by: {}, dropped: 0 }))
    await release(env.inventory, "old")
    expect(await reserve(env.inventory, "gone")).toEqual({ ok: false, reason: "the order's stock was already released" })
    const { value, holds } = await ledger(env, "a")
    expect(holds).toEqual({})
    expect(value.available).toBe(STOCK)
  })
})


describe("entries left behind", () => {
  const one = [{ sku: "a", quantity: 1, unitPriceCents: 1 }]
  it("by a process that settled records and never wrote the SKU again: swept once the value is large", async () => {
    const env = await setUp()
    // 300 orders at once in one process: written in two batches, the second's confirmations still
    // waiting for a next write that never comes (the process is gone).
    const gone = makeInventory(env.stock, env.records, STOCK * 10)
    const orders = Array.from({ length: SWEEP_AT + 44 }, (_, i) => `left-${i}`)
    await Promise.all(orders.map((o) => reserve(gone, o, one)))
    expect(Object.keys((await run(env.stock.get(skuKey("a"))))!.value.held).length).toBeGreaterThan(SWEEP_AT)
    // Another process writing the SKU finds them, reads their records and drops them with its writes.
    const other = makeInventory(env.stock, env.records, STOCK * 10)
    const held = await eventually(async () => {
      await reserve(other, `next-${Math.random().toString(36).slice(2)}`, one)
      const n = Object.keys((await run(env.stock.get(skuKey("a"))))!.value.held).length
      return n < 10 ? n : undefined
    }, 10_000, "the entries left behind to be swept")
    expect(held).toBeLessThan(10)
  })

  it("stray holds whose attempts died with no redelivery to undo them: swept once the value is large, their units freed", async () => {
    const env = await setUp()
    const start = STOCK * 10
    // s1's record refused it, s2's confirms another attempt's hold (already dropped from the value),
    // s3's was released: the holds by dead attempts here hold nothing for good. s4 has no record yet
    // (its reservation is under way): its hold stays.
    await run(env.records.create(reservationKey("s1"), { _tag: "Rejected", reason: "not enough b" }))
    await run(env.records.create(reservationKey("s2"), { _tag: "Held", lines: [{ sku: "a", quantity: 3, by: "won" }] }))
    await run(env.records.create(reservationKey("s3"), { _tag: "Released" }))
    await run(env.stock.create(skuKey("a"), {
      available: start - 4 - 3 - 3 - 2 - 1, held: { s1: 4, s2: 3, s3: 2, s4: 1 }, closed: [], by: { s1: "dead1", s2: "dead2", s3: "dead3", s4: "alive" }, dropped: 0
    }))
    expect((await skuLedger(env.stock, env.records, "a", start)).holds).toEqual({ s1: 4, s2: 6, s3: 2, s4: 1 })
    const gone = makeInventory(env.stock, env.records, start)
    const orders = Array.from({ length: SWEEP_AT }, (_, i) => `many-${i}`)
    await Promise.all(orders.map((o) => reserve(gone, o, one)))
    const other = makeInventory(env.stock, env.records, start)
    const holds = await eventually(async () => {
      await reserve(other, `next-${Math.random().toString(36).slice(2)}`, one)
      const { value, holds } = await skuLedger(env.stock, env.records, "a", start)
      return value.held.s1 === undefined ? holds : undefined
    }, 10_000, "the stray holds to be swept")
    expect({ s1: holds.s1, s2: holds.s2, s3: holds.s3, s4: holds.s4 }).toEqual({ s1: undefined, s2: 3, s3: undefined, s4: 1 })
    expect((await run(env.stock.get(skuKey("a"))))!.value.held.s4).toBe(1)
  })

  it("a stray hold in a small value: swept a period after its writer first saw the value with entries", async () => {
    const env = await setUp()
    await run(env.records.create(reservationKey("s1"), { _tag: "Rejected", reason: "not enough b" }))
    await run(env.stock.create(skuKey("a"), { available: STOCK - 4 - 1, held: { s1: 4, s4: 1 }, closed: [], by: { s1: "dead1", s4: "alive" }, dropped: 0 }))
    const writer = makeInventory(env.stock, env.records, STOCK, { smallEveryMs: 200 })
    const { value, holds } = await eventually(async () => {
      await reserve(writer, `next-${Math.random().toString(36).slice(2)}`, one)
      const found = await ledger(env, "a")
      return found.value.held.s1 === undefined ? found : undefined
    }, 10_000, "the stray hold to be swept")
    expect(holds.s1).toBeUndefined()
    expect(value.held.s4).toBe(1)
  })
})
