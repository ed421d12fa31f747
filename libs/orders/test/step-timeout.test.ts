import { Buckets } from "@conveyor/domain"
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GatewayRoutesLive, InventoryWorkerLive, ledgerKey, OrchestratorLive, PaymentsWorkerLive, skuKey } from "../src/index.js"
import { order, postOrder, startStack, terminal } from "./support.js"

// The shipping worker is not running: ScheduleShipment is never answered.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
beforeAll(async () => {
  stack = await startStack(server.url, { ORDER_STEP_TIMEOUT_MS: "1500", ORDER_MAX_ATTEMPTS: "2", TIMER_POLL_MS: "50", INVENTORY_DEFAULT_STOCK: "10" },
    Layer.mergeAll(OrchestratorLive, InventoryWorkerLive, PaymentsWorkerLive), GatewayRoutesLive)
})
afterAll(async () => {
  await stack?.close()
})

describe("step timeouts", () => {
  it("re-sends an unanswered step, then compensates: refund, release, cancelled", async () => {
    await postOrder(stack.base, order("stuck-1", "c-1", [{ sku: "t-1", quantity: 4, unitPriceCents: 250 }]))
    const done = await terminal(stack.base, "stuck-1", 30_000)
    expect(done).toMatchObject({ status: "cancelled", compensations: ["refund", "release"] })
    expect(done.retries).toBeGreaterThanOrEqual(1)
    expect(done.reason).toMatch(/no answer to ScheduleShipment after 2 attempts/)
    const path = done.history.map((h: any) => `${h.event}:${h.to}`)
    // On a loaded machine an earlier step may time out and be re-sent too; the shipping path must be there in order.
    const moves = done.history.filter((h: any) => h.from !== h.to).map((h: any) => `${h.event}:${h.to}`)
    expect(moves).toEqual([
      "OrderPlaced:ReservingStock", "StockReserved:CapturingPayment", "PaymentCaptured:SchedulingShipment",
      "StepTimedOut:RefundingPayment", "PaymentRefunded:ReleasingStock", "StockReleased:Cancelled"
    ])
    // The ship step was re-sent once (attempt 2) before giving up.
    expect(path.filter((p: string) => p === "StepTimedOut:SchedulingShipment")).toHaveLength(1)
    const nc = await connect({ servers: server.url })
    try {
      const kvm = new Kvm(nc)
      expect((await (await kvm.open(Buckets.paymentsLedger)).get(ledgerKey("stuck-1")))?.json()).toMatchObject({ status: "refunded", capturedCents: 1000, refundedCents: 1000 })
      expect((await (await kvm.open(Buckets.inventoryStock)).get(skuKey("t-1")))?.json()).toMatchObject({ available: 10, held: {} })
      // A finished order leaves no timer behind.
      const keys: Array<string> = []
      for await (const key of await (await kvm.open(Buckets.timers)).keys()) keys.push(key)
      expect(keys).toEqual([])
    } finally {
      await nc.close()
    }
  })
})
