import { Buckets, commandSubject, encodeCommand, eventSubject, StreamNames, type OrderCommand } from "@conveyor/domain"
import { Kvm } from "@nats-io/kv"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { eventually } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { InventoryWorkerLive, ledgerKey, PaymentsWorkerLive, shipmentKey, ShippingWorkerLive, skuKey } from "../src/index.js"
import { startStack } from "./support.js"

// A worker may get two commands of one order at once: a step's re-sent attempt and the
// compensation the workflow sent when it gave up on that step (a worker that was down finds both
// queued). Its answers must come out in the order of its decisions: an attempt answered from the
// value before the compensation wrote must not be published after the compensation's answer, or
// the events say "scheduled" after "recalled" for an order whose booking is recalled.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
let nc: NatsConnection
const STOCK = 1_000_000
beforeAll(async () => {
  stack = await startStack(server.url, { INVENTORY_DEFAULT_STOCK: String(STOCK), LOG_LEVEL: "warn" },
    Layer.mergeAll(InventoryWorkerLive, PaymentsWorkerLive, ShippingWorkerLive))
  nc = await connect({ servers: server.url })
}, 120_000)
afterAll(async () => {
  await stack?.close()
  await nc?.close()
})

/** Publishes every command at once (pipelined, in this order), each under its own message id. */
const sendAll = (commands: ReadonlyArray<readonly [OrderCommand, string]>) => {
  const js = jetstream(nc)
  return Promise.all(commands.map(([command, msgID]) => js.publish(commandSubject(command), encodeCommand(command), { msgID })))
}

/** Every answer on the events stream, as `type` per order, in stream order. */
const answersByOrder = async (): Promise<Map<string, Array<string>>> => {
  const total = (await (await jetstreamManager(nc)).streams.info(StreamNames.events)).state.messages
  const consumer = await jetstream(nc).consumers.get(StreamNames.events)
  const byOrder = new Map<string, Array<string>>()
  for await (const m of await consumer.fetch({ max_messages: total, expires: 5_000 })) {
    const { type, orderId } = m.json<{ type: string; orderId: string }>()
    byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), type])
    if (m.info.pending === 0) break
  }
  return byOrder
}

const answered = (type: string, count: number) =>
  eventually(async () => {
    const subject = eventSubject(type as never)
    const info = await (await jetstreamManager(nc)).streams.info(StreamNames.events, { subjects_filter: subject })
    return (info.state.subjects?.[subject] ?? 0) >= count ? true : undefined
  }, 60_000, `${count} ${type}`)

const drained = (durable: string) =>
  eventually(async () => {
    const info = await (await jetstreamManager(nc)).consumers.info(StreamNames.commands, durable)
    return info.num_pending === 0 && info.num_ack_pending === 0
  }, 60_000, `${durable} to finish its commands`)

/** The orders whose answers of type `done` come before one of type `undone` (an answer contradicted by an earlier one). */
const contradicted = (byOrder: Map<string, Array<string>>, ids: ReadonlyArray<string>, done: string, undone: string) =>
  ids.filter((id) => {
    const answers = byOrder.get(id) ?? []
    return answers.includes(undone) && answers.lastIndexOf(done) > answers.indexOf(undone)
  })

// Enough pairs that, without ordering, some attempts' answers overtake their compensation's.
const N = 500
const ids = (prefix: string) => Array.from({ length: N }, (_, i) => `${prefix}-${i}`)
const items = [{ sku: "order-of-answers", quantity: 1, unitPriceCents: 100 }]

describe("two commands of one order handled at once", () => {
  it("a re-sent ScheduleShipment and the RecallShipment: ShipmentScheduled never after ShipmentRecalled", { timeout: 120_000 }, async () => {
    const orders = ids("ship")
    // Each order's shipment is booked (its first attempt); attempt 2 would answer from that booking.
    const shipments = await new Kvm(nc).open(Buckets.shipments)
    await Promise.all(orders.map((orderId) => shipments.put(shipmentKey(orderId), JSON.stringify({ status: "scheduled", trackingId: `trk-${orderId}` }))))
    await sendAll(orders.flatMap((orderId) => [
      [{ type: "ScheduleShipment", version: 1, orderId, attempt: 2, customerId: "c-1", items }, `${orderId}:3:0`],
      [{ type: "RecallShipment", version: 1, orderId, attempt: 1 }, `${orderId}:4:0`]
    ] as const))
    await answered("ShipmentRecalled", N)
    await drained("shipping-worker")
    const byOrder = await answersByOrder()
    expect(orders.filter((id) => !(byOrder.get(id) ?? []).includes("ShipmentRecalled"))).toEqual([])
    expect(contradicted(byOrder, orders, "ShipmentScheduled", "ShipmentRecalled")).toEqual([])
    const stored = await Promise.all(orders.map(async (id) => (await shipments.get(shipmentKey(id)))?.json<{ status: string }>().status))
    expect(new Set(stored)).toEqual(new Set(["recalled"]))
  })

  it("a re-sent CapturePayment and the RefundPayment: PaymentCaptured never after PaymentRefunded", { timeout: 120_000 }, async () => {
    const orders = ids("pay")
    const ledger = await new Kvm(nc).open(Buckets.paymentsLedger)
    await Promise.all(orders.map((orderId) =>
      ledger.put(ledgerKey(orderId), JSON.stringify({ status: "captured", paymentId: `pay-${orderId}`, capturedCents: 100, refundedCents: 0 }))))
    await sendAll(orders.flatMap((orderId) => [
      [{ type: "CapturePayment", version: 1, orderId, attempt: 2, customerId: "c-1", amountCents: 100 }, `${orderId}:2:0`],
      [{ type: "RefundPayment", version: 1, orderId, attempt: 1, amountCents: 100 }, `${orderId}:4:0`]
    ] as const))
    await answered("PaymentRefunded", N)
    await drained("payments-worker")
    const byOrder = await answersByOrder()
    expect(contradicted(byOrder, orders, "PaymentCaptured", "PaymentRefunded")).toEqual([])
  })

  it("a re-sent ReserveStock and the ReleaseStock: StockReserved never after StockReleased", { timeout: 120_000 }, async () => {
    const orders = ids("stock")
    await sendAll(orders.map((orderId) => [{ type: "ReserveStock", version: 1, orderId, attempt: 1, items }, `${orderId}:1:0`] as const))
    await answered("StockReserved", N)
    await sendAll(orders.flatMap((orderId) => [
      [{ type: "ReserveStock", version: 1, orderId, attempt: 2, items }, `${orderId}:2:0`],
      [{ type: "ReleaseStock", version: 1, orderId, attempt: 1, items }, `${orderId}:3:0`]
    ] as const))
    await answered("StockReleased", N)
    await drained("inventory-worker")
    const byOrder = await answersByOrder()
    expect(contradicted(byOrder, orders, "StockReserved", "StockReleased")).toEqual([])
    const stock = (await (await new Kvm(nc).open(Buckets.inventoryStock)).get(skuKey(items[0]!.sku)))?.json<{ available: number }>()
    expect(stock?.available).toBe(STOCK)
  })
})
