import { eventually } from "@conveyor/testing"
import { Buckets } from "@conveyor/domain"
import { Kvm } from "@nats-io/kv"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { describe, expect, it } from "@effect/vitest"
import {
  GatewayRoutesLive, InventoryWorkerLive, ledgerKey, NotifierLive, OrchestratorLive, PaymentsWorkerLive, ShippingWorkerLive, reservationKey, skuKey
} from "../src/index.js"
import { order, postOrder, terminal, useStack } from "./support.js"

const server = useNatsServer()
const stack = useStack(server, {
  PAYMENTS_FAILURE_RATE: "0.3", PAYMENTS_DECLINE_ABOVE_CENTS: "100000", INVENTORY_DEFAULT_STOCK: "100", RETRY_INITIAL_DELAY_MS: "20"
}, Layer.mergeAll(OrchestratorLive, InventoryWorkerLive, PaymentsWorkerLive, ShippingWorkerLive, NotifierLive), GatewayRoutesLive)

const readJson = async (bucket: string, key: string) => {
  const nc = await connect({ servers: server.url })
  try {
    const entry = await (await new Kvm(nc).open(bucket)).get(key)
    return entry?.operation === "PUT" ? entry.json<any>() : undefined
  } finally {
    await nc.close()
  }
}

describe("the order workflow across orchestrator and workers (in one process)", () => {
  it("completes an order: stock held, payment captured once, shipment scheduled, despite transient payment faults", async () => {
    const placed = await postOrder(stack.base, order("happy-1", "c-1", [{ sku: "flow-a", quantity: 3, unitPriceCents: 700 }]))
    expect(placed.status).toBe(202)
    const done = await terminal(stack.base, "happy-1")
    expect(done.status).toBe("completed")
    expect(done.history.map((h: any) => h.to)).toEqual(["ReservingStock", "CapturingPayment", "SchedulingShipment", "Completed"])
    // The orchestrator's outbox publishes (the commands) are timed like every other publish.
    const metrics = await (await fetch(`${stack.base}/metrics`)).text()
    expect(metrics).toMatch(/^conveyor_publish_duration_seconds_count\{subject="orders\.commands\.inventory\.reserve"\} [1-9]/m)
    // One trace from the HTTP request through the orchestrator: the instance records it.
    expect(placed.body.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(done.history[0].traceId).toBe(placed.body.traceId)
    expect((await readJson(Buckets.workflows, "happy-1"))?.traceId).toBe(placed.body.traceId)
    // Once OrderCompleted is published the finished instance keeps no outbox (`conveyor workflow show`: "outbox empty").
    await eventually(async () => (await readJson(Buckets.workflows, "happy-1"))?.outbox.length === 0, 10_000, "the finished outbox to be cleared")
    expect(await readJson(Buckets.paymentsLedger, ledgerKey("happy-1"))).toMatchObject({ status: "captured", capturedCents: 2100 })
    expect(await readJson(Buckets.inventoryStock, skuKey("flow-a"))).toMatchObject({ available: 97 })
    expect(await readJson(Buckets.inventoryStock, reservationKey("happy-1"))).toMatchObject({ _tag: "Held", lines: [{ sku: "flow-a", quantity: 3 }] })
  })

  it("a declined payment releases the stock and cancels the order", async () => {
    await postOrder(stack.base, order("declined-1", "decline-me", [{ sku: "flow-b", quantity: 5, unitPriceCents: 100 }]))
    const done = await terminal(stack.base, "declined-1")
    expect(done).toMatchObject({ status: "cancelled", compensations: ["release"] })
    expect(done.reason).toMatch(/payment declined/)
    expect(await readJson(Buckets.inventoryStock, skuKey("flow-b"))).toMatchObject({ available: 100, held: {} })
    expect(await readJson(Buckets.inventoryStock, reservationKey("declined-1"))).toEqual({ _tag: "Released" })
    expect(await readJson(Buckets.paymentsLedger, ledgerKey("declined-1"))).toMatchObject({ status: "declined", capturedCents: 0 })
  })

  it("dead-letters an event the workflow cannot accept, with the reason", async () => {
    const nc = await connect({ servers: server.url })
    try {
      const js = jetstream(nc)
      await js.publish("orders.events.stock-reserved", JSON.stringify({ type: "StockReserved", version: 1, orderId: "ghost-1" }), { msgID: "ghost-1-reserved" })
      const jsm = await jetstreamManager(nc)
      let reason = ""
      const deadline = Date.now() + 20_000
      while (reason === "" && Date.now() < deadline) {
        const last = await jsm.streams.getMessage("DEAD_LETTERS", { last_by_subj: "dlq.ORDER_EVENTS.orchestrator" }).catch(() => null)
        if (last !== null && last.header.get("Conveyor-Original-Message-Id") === "ghost-1-reserved") reason = last.header.get("Conveyor-Error-Message")
        else await new Promise((r) => setTimeout(r, 100))
      }
      expect(reason).toContain("event StockReserved is not allowed in state (none)")
      expect(reason).toContain("only OrderPlaced starts one")
    } finally {
      await nc.close()
    }
  })

  it("rejects an order that needs more stock than there is, holding nothing", async () => {
    await postOrder(stack.base, order("rejected-1", "c-2", [
      { sku: "flow-c", quantity: 1, unitPriceCents: 100 }, { sku: "flow-d", quantity: 101, unitPriceCents: 100 }
    ]))
    const done = await terminal(stack.base, "rejected-1")
    expect(done).toMatchObject({ status: "cancelled", compensations: [] })
    expect(done.reason).toMatch(/not enough flow-d/)
    expect(await readJson(Buckets.inventoryStock, skuKey("flow-c"))).toMatchObject({ available: 100, held: {} })
  })
})
