import { Buckets, StreamNames, type OrderCommand } from "@conveyor/domain"
import { Kvm } from "@nats-io/kv"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { holdsOf, InventoryWorkerLive, ledgerKey, PaymentsWorkerLive, Reservation, reservationKey, shipmentKey, ShippingWorkerLive, skuKey, SkuStock } from "../src/index.js"
import { eventually } from "@conveyor/testing"
import { eventsStored, sendCommand, startStack } from "./support.js"

// The workers keep no idempotency records of their own: each step's compare-and-set on its store
// is the record. A command delivered again after that write (a duplicate past the stream's
// duplicate window, as a re-published outbox or a redelivery after a crash would be) must change
// nothing and answer the same event under the same message id.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
let second: Awaited<ReturnType<typeof startStack>> | undefined
let nc: NatsConnection
const STOCK = 50
beforeAll(async () => {
  stack = await startStack(server.url, { INVENTORY_DEFAULT_STOCK: String(STOCK), RETRY_INITIAL_DELAY_MS: "20" },
    Layer.mergeAll(InventoryWorkerLive, PaymentsWorkerLive, ShippingWorkerLive))
  nc = await connect({ servers: server.url })
  // A short window, so the same message id is stored (and delivered) again 200 ms later.
  const jsm = await jetstreamManager(nc)
  for (const stream of [StreamNames.commands, StreamNames.events]) await jsm.streams.update(stream, { duplicate_window: 100_000_000 })
}, 120_000)
afterAll(async () => {
  await second?.close()
  await stack?.close()
  await nc?.close()
})

const send = (command: OrderCommand, msgId: string) => sendCommand(nc, command, msgId)

/** The answers stored on the events stream for one order: message id and payload, in order. */
const answersOf = async (orderId: string) => {
  const jsm = await jetstreamManager(nc)
  const last = (await jsm.streams.info(StreamNames.events)).state.last_seq
  const found: Array<{ msgId: string; payload: any }> = []
  for (let seq = 1; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(StreamNames.events, { seq }).catch(() => null)
    const payload = m?.json<any>()
    if (payload?.orderId === orderId) found.push({ msgId: m!.header.get("Nats-Msg-Id"), payload })
  }
  return found
}
const read = async (bucket: string, key: string) => {
  const entry = await (await new Kvm(nc).open(bucket)).get(key)
  return entry === null ? undefined : { value: entry.json<any>(), revision: entry.revision }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("a duplicate after the worker's store write", () => {
  it("holds stock, captures and books once, and answers the same event under the same id", async () => {
    const orderId = "dup-1"
    const items = [{ sku: "dup-a", quantity: 3, unitPriceCents: 100 }, { sku: "dup-b", quantity: 2, unitPriceCents: 50 }]
    const commands: Array<[OrderCommand, string]> = [
      [{ type: "ReserveStock", version: 1, orderId, attempt: 1, items }, `${orderId}:1:0`],
      [{ type: "CapturePayment", version: 1, orderId, attempt: 1, customerId: "c-1", amountCents: 400 }, `${orderId}:2:0`],
      [{ type: "ScheduleShipment", version: 1, orderId, attempt: 1, customerId: "c-1", items }, `${orderId}:3:0`]
    ]
    for (const [command, id] of commands) await send(command, id)
    const first = await eventually(async () => {
      const answers = await answersOf(orderId)
      return answers.length === 3 ? answers : undefined
    }, 20_000, "the three answers")
    const stored = {
      a: await read(Buckets.inventoryStock, skuKey("dup-a")),
      b: await read(Buckets.inventoryStock, skuKey("dup-b")),
      ledger: await read(Buckets.paymentsLedger, ledgerKey(orderId)),
      shipment: await read(Buckets.shipments, shipmentKey(orderId))
    }
    expect(stored.a?.value).toMatchObject({ available: STOCK - 3, held: { [orderId]: 3 } })
    expect(stored.ledger?.value).toMatchObject({ status: "captured", capturedCents: 400 })
    expect(stored.shipment?.value).toMatchObject({ status: "scheduled" })

    await sleep(200) // past both duplicate windows
    for (const [command, id] of commands) await send(command, id)
    const all = await eventually(async () => {
      const answers = await answersOf(orderId)
      return answers.length === 6 ? answers : undefined
    }, 20_000, "the three answers again")
    // The same events under the same ids, in some order.
    const key = (a: { msgId: string; payload: unknown }) => JSON.stringify(a)
    expect(all.slice(3).map(key).sort()).toEqual(first.map(key).sort())
    // Nothing held, charged or booked again: every store value is as the first delivery left it.
    expect(await read(Buckets.inventoryStock, skuKey("dup-a"))).toEqual(stored.a)
    expect(await read(Buckets.inventoryStock, skuKey("dup-b"))).toEqual(stored.b)
    expect(await read(Buckets.paymentsLedger, ledgerKey(orderId))).toEqual(stored.ledger)
    expect(await read(Buckets.shipments, shipmentKey(orderId))).toEqual(stored.shipment)
  })

  it("a reservation delivered again after the order's stock was released holds nothing", async () => {
    const orderId = "dup-2"
    const items = [{ sku: "dup-c", quantity: 4, unitPriceCents: 100 }]
    await send({ type: "ReserveStock", version: 1, orderId, attempt: 1, items }, `${orderId}:1:0`)
    await eventually(async () => (await read(Buckets.inventoryStock, skuKey("dup-c")))?.value.held[orderId] === 4, 20_000, "the hold")
    await send({ type: "ReleaseStock", version: 1, orderId, attempt: 1, items }, `${orderId}:2:0`)
    await eventually(async () => (await answersOf(orderId)).some((a) => a.payload.type === "StockReleased"), 20_000, "the release")
    await sleep(200)
    await send({ type: "ReserveStock", version: 1, orderId, attempt: 1, items }, `${orderId}:1:0`)
    const answers = await eventually(async () => {
      const found = await answersOf(orderId)
      return found.length === 3 ? found : undefined
    }, 20_000, "the answer to the late duplicate")
    // The workflow ignores it as a late answer to a step it already left; the goods stay free.
    expect(answers[2]?.payload).toMatchObject({ type: "StockRejected" })
    expect((await read(Buckets.inventoryStock, skuKey("dup-c")))?.value).toMatchObject({ available: STOCK, held: {} })
  })
})

describe("two inventory workers on the same SKUs", () => {
  it("each starting from the SKU values it last wrote, hold and release every order exactly once", async () => {
    // A second worker on the same durable (competing consumers), with its own connection and cache:
    // each one's cached values go stale whenever the other writes the SKU.
    second = await startStack(server.url, { INVENTORY_DEFAULT_STOCK: String(STOCK) }, InventoryWorkerLive)
    const skus = ["race-a", "race-b", "race-c"]
    const itemsOf = (i: number) => [{ sku: skus[i % 3]!, quantity: 1, unitPriceCents: 1 }, { sku: skus[(i + 1) % 3]!, quantity: 1, unitPriceCents: 1 }]
    const N = 40
    const answered = (type: string, count: number) => eventsStored(nc, type, count, 30_000)
    await Promise.all(Array.from({ length: N }, (_, i) => send({ type: "ReserveStock", version: 1, orderId: `race-${i}`, attempt: 1, items: itemsOf(i) }, `race-${i}:1:0`)))
    await answered("stock-reserved", N)
    // Release every other order, through both workers again.
    const released = Array.from({ length: N / 2 }, (_, k) => 2 * k)
    await Promise.all(released.map((i) => send({ type: "ReleaseStock", version: 1, orderId: `race-${i}`, attempt: 1, items: itemsOf(i) }, `race-${i}:2:0`)))
    await answered("stock-released", N / 2)
    const records = new Map<string, Reservation>()
    for (let i = 0; i < N; i++) {
      const record = await read(Buckets.inventoryStock, reservationKey(`race-${i}`))
      if (record !== undefined) records.set(`race-${i}`, Schema.decodeUnknownSync(Reservation)(record.value))
    }
    for (const sku of skus) {
      const value = Schema.decodeUnknownSync(SkuStock)((await read(Buckets.inventoryStock, skuKey(sku)))!.value)
      // Held in the SKU's value, or (once it dropped the entry) by the order's record.
      const holders = [...holdsOf(sku, value, records).keys()]
      const expected = Array.from({ length: N }, (_, i) => i).filter((i) => !released.includes(i) && itemsOf(i).some((it) => it.sku === sku))
      expect(holders.sort()).toEqual(expected.map((i) => `race-${i}`).sort())
      expect(value.available + holders.length).toBe(STOCK)
    }
  })
})
