import { Buckets, commandSubject, encodeCommand, StreamNames } from "@conveyor/domain"
import { Kvm } from "@nats-io/kv"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GatewayRoutesLive, InventoryWorkerLive, ledgerKey, OrchestratorLive, PaymentsWorkerLive, shipmentKey, skuKey } from "../src/index.js"
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import { eventually, getOrder, order, postOrder, startStack, terminal } from "./support.js"

// The shipping worker (its own process) is SIGKILLed and stays down while the ship step uses up its
// attempts; it comes back later and finds those abandoned ScheduleShipment attempts still queued.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
let shipping: AppProcess | undefined
let nc: NatsConnection
const startShipping = async () => {
  shipping = await startAppProcess("shipping-worker", { NATS_URL: server.url })
  await shipping.waitReady(90_000)
}
beforeAll(async () => {
  stack = await startStack(server.url, { ORDER_STEP_TIMEOUT_MS: "1500", ORDER_MAX_ATTEMPTS: "2", TIMER_POLL_MS: "50", INVENTORY_DEFAULT_STOCK: "10" },
    Layer.mergeAll(OrchestratorLive, InventoryWorkerLive, PaymentsWorkerLive), GatewayRoutesLive)
  nc = await connect({ servers: server.url })
  await startShipping()
}, 120_000)
afterAll(async () => {
  await shipping?.stop("SIGKILL")
  await stack?.close()
  await nc?.close()
})

/** The order's events in stream order, as `type` (the outcome events and the workers' answers). */
const eventsOf = async (orderId: string): Promise<Array<string>> => {
  const js = jetstream(nc)
  const total = (await jetstreamManager(nc).then((m) => m.streams.info(StreamNames.events))).state.messages
  const consumer = await js.consumers.get(StreamNames.events)
  const types: Array<string> = []
  const messages = await consumer.fetch({ max_messages: total, expires: 2_000 })
  for await (const m of messages) {
    const event = m.json<{ type: string; orderId: string }>()
    if (event.orderId === orderId) types.push(event.type)
  }
  return types
}

const readJson = async (bucket: string, key: string) => {
  const entry = await (await new Kvm(nc).open(bucket)).get(key)
  return entry?.operation === "PUT" ? entry.json<any>() : undefined
}

const shippingDrained = async () => {
  const info = await (await jetstreamManager(nc)).consumers.info(StreamNames.commands, "shipping-worker")
  return info.num_pending === 0 && info.num_ack_pending === 0
}

describe("a step abandoned while its worker is down", () => {
  it("ships nothing for the cancelled order: the late attempts are recalled, a later one is refused", { timeout: 150_000 }, async () => {
    await postOrder(stack.base, order("shipped-1", "c-2", [{ sku: "t-2", quantity: 1, unitPriceCents: 100 }]))
    expect(await terminal(stack.base, "shipped-1", 30_000)).toMatchObject({ status: "completed" })
    await shipping!.stop("SIGKILL")

    await postOrder(stack.base, order("stuck-1", "c-1", [{ sku: "t-1", quantity: 4, unitPriceCents: 250 }]))
    // The ship step was re-sent once (attempt 2), then given up.
    await eventually(async () => {
      const view = (await getOrder(stack.base, "stuck-1")).body
      return view.history?.some((h: any) => h.from === "SchedulingShipment" && h.to !== "SchedulingShipment")
    }, 30_000, "the ship step to be given up")

    await startShipping()
    const done = await terminal(stack.base, "stuck-1", 30_000)
    expect(done).toMatchObject({ status: "cancelled", compensations: ["recall", "refund", "release"] })
    expect(done.reason).toMatch(/no answer to ScheduleShipment after 2 attempts/)
    const moves = done.history.filter((h: any) => h.from !== h.to).map((h: any) => `${h.event}:${h.to}`)
    expect(moves).toEqual([
      "OrderPlaced:ReservingStock", "StockReserved:CapturingPayment", "PaymentCaptured:SchedulingShipment",
      "StepTimedOut:RecallingShipment", "ShipmentRecalled:RefundingPayment", "PaymentRefunded:ReleasingStock", "StockReleased:Cancelled"
    ])
    await eventually(shippingDrained, 20_000, "the shipping worker to finish its queue")

    // Whatever the abandoned attempts booked was undone before the order was cancelled: every
    // ShipmentScheduled is followed by a ShipmentRecalled, and the store holds no live shipment.
    const events = await eventsOf("stuck-1")
    expect(events.at(-1)).toBe("OrderCancelled")
    expect(events).toContain("ShipmentRecalled")
    expect(events.lastIndexOf("ShipmentScheduled")).toBeLessThan(events.indexOf("ShipmentRecalled"))
    expect(await readJson(Buckets.shipments, shipmentKey("stuck-1"))).toMatchObject({ status: "recalled" })
    expect(await readJson(Buckets.shipments, shipmentKey("shipped-1"))).toMatchObject({ status: "scheduled" })
    expect(await readJson(Buckets.paymentsLedger, ledgerKey("stuck-1"))).toMatchObject({ status: "refunded", capturedCents: 1000, refundedCents: 1000 })
    expect(await readJson(Buckets.inventoryStock, skuKey("t-1"))).toMatchObject({ available: 10, held: {} })

    // An attempt arriving after the recall (e.g. redelivered from a backlog) is fenced by the tombstone.
    await jetstream(nc).publish(commandSubject("ScheduleShipment"), encodeCommand({
      type: "ScheduleShipment", version: 1, orderId: "stuck-1", attempt: 7, customerId: "c-1", items: [{ sku: "t-1", quantity: 4, unitPriceCents: 250 }]
    }), { msgID: "stuck-1:late-attempt" })
    await eventually(shippingDrained, 20_000, "the late attempt to be handled")
    expect(await readJson(Buckets.shipments, shipmentKey("stuck-1"))).toMatchObject({ status: "recalled" })
    expect((await eventsOf("stuck-1")).filter((e) => e === "ShipmentScheduled")).toHaveLength(events.filter((e) => e === "ShipmentScheduled").length)

    // A finished order leaves no timer behind.
    const keys: Array<string> = []
    for await (const key of await (await new Kvm(nc).open(Buckets.timers)).keys()) keys.push(key)
    expect(keys).toEqual([])
  })
})
