// End to end with every app as its own process: orders flow while the payments worker and then the
// orchestrator are SIGKILLed and restarted. Afterwards every order must be finished and the stores
// must reconcile: no payment captured twice, stock back to start and no live shipment for every
// cancelled order, no timer lost (timers set before the orchestrator died fire after it restarts).
import { Buckets, Durables, orderTopology } from "@conveyor/domain"
import { holdsOf, ledgerKey, Reservation, reservationKey, shipmentKey, skuKey, SkuStock } from "@conveyor/orders"
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import { eventually } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"

const server = useNatsServer()
const running = new Map<string, AppProcess>()
afterAll(async () => {
  // By pid, each of ours; SIGKILL because a failed test must not wait for graceful shutdowns.
  await Promise.all([...running.values()].map((app) => app.stop("SIGKILL")))
})

const STOCK = 1_000
const env = () => ({
  NATS_URL: server.url,
  ORDER_STEP_TIMEOUT_MS: "2500",
  ORDER_MAX_ATTEMPTS: "4",
  TIMER_POLL_MS: "100",
  PAYMENTS_FAILURE_RATE: "0.2",
  INVENTORY_DEFAULT_STOCK: String(STOCK),
  RETRY_INITIAL_DELAY_MS: "100",
  CONSUMER_CONCURRENCY: "16"
})
const start = async (app: string) => {
  const process = await startAppProcess(app, env())
  running.set(app, process)
  await process.waitReady(90_000)
  return process
}
const t0 = Date.now()
const note = (s: string) => console.log(`E2E +${Date.now() - t0} ms: ${s}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const orderOf = (i: number) => ({
  orderId: `e2e-${i}`,
  customerId: i % 7 === 4 ? `decline-${i}` : `c-${i}`,
  items: [{ sku: `sku-${i % 5}`, quantity: 1 + (i % 3), unitPriceCents: 100 + i }, { sku: `sku-${(i + 2) % 5}`, quantity: 1, unitPriceCents: 50 }]
})

describe("apps as separate processes", () => {
  it("every order finishes and reconciles across SIGKILL + restart of a worker and the orchestrator", async () => {
    // All at once: each ensures the topology, and identical creates are idempotent (failures are retried).
    await Promise.all(["orchestrator", "gateway", "inventory-worker", "payments-worker", "shipping-worker", "notifier"].map(start))
    note("all ready")
    const gateway = running.get("gateway")!
    const N = 48
    const place = async (i: number) => {
      const r = await fetch(`${gateway.url}/orders`, {
        method: "POST", headers: { "content-type": "application/json", "idempotency-key": `e2e-key-${i}` }, body: JSON.stringify(orderOf(i))
      })
      expect(r.status).toBe(202)
    }
    // The payments worker dies first, so every capture goes unanswered and its step timer is set
    // (killed mid-run it could come too late: the workflow now captures every order within a
    // second); then the orchestrator dies while those timers are pending in the bucket.
    await running.get("payments-worker")!.stop("SIGKILL")
    const placing = (async () => {
      for (let i = 0; i < N; i += 4) {
        await Promise.all([i, i + 1, i + 2, i + 3].map(place))
        await sleep(60)
      }
    })()
    await sleep(3_000)
    const killedAt = Date.now()
    await running.get("orchestrator")!.stop("SIGKILL")
    // From here on only the restarted orchestrator records events. Its start-up fires the timers
    // already due before /readyz answers, so "after the restart" must not mean "after ready".
    const diedAt = Date.now()
    note("orchestrator killed")
    await placing
    note("placed")
    await sleep(500)
    await start("orchestrator")
    note("orchestrator restarted")
    await start("payments-worker")
    note("payments restarted")

    const nc = await connect({ servers: server.url })
    try {
      const kvm = new Kvm(nc)
      const workflows = await kvm.open(Buckets.workflows)
      const read = async (i: number) => (await workflows.get(`e2e-${i}`))?.json<any>()
      const deadline = Date.now() + 90_000
      let instances: Array<any> = []
      while (Date.now() < deadline) {
        instances = await Promise.all(Array.from({ length: N }, (_, i) => read(i)))
        if (instances.every((x) => x?.terminal === true)) break
        note(`${instances.filter((x) => x?.terminal).length} terminal`)
        await sleep(500)
      }
      const unfinished = instances.map((x, i) => (x?.terminal === true ? undefined : `e2e-${i}: ${x?.state?._tag ?? "no instance"}`)).filter(Boolean)
      expect(unfinished).toEqual([])

      const completed = new Set(instances.filter((x) => x.state._tag === "Completed").map((x) => x.workflowId))
      expect(completed.size, "completed orders").toBeGreaterThan(0)
      expect(instances.filter((x) => x.state._tag === "Cancelled").length, "cancelled orders").toBeGreaterThan(0)

      // Payments: one capture per completed order, nothing kept for a cancelled one.
      const ledger = await kvm.open(Buckets.paymentsLedger)
      for (let i = 0; i < N; i++) {
        const entry = (await ledger.get(ledgerKey(`e2e-${i}`)))?.json<any>()
        const total = orderOf(i).items.reduce((s, it) => s + it.quantity * it.unitPriceCents, 0)
        if (completed.has(`e2e-${i}`)) expect(entry, `e2e-${i}`).toMatchObject({ status: "captured", capturedCents: total, refundedCents: 0 })
        else expect(entry === undefined || entry.capturedCents === entry.refundedCents, `e2e-${i} ${JSON.stringify(entry)}`).toBe(true)
      }
      // Shipments: booked for every completed order, none live for a cancelled one.
      const shipments = await kvm.open(Buckets.shipments)
      for (let i = 0; i < N; i++) {
        const entry = (await shipments.get(shipmentKey(`e2e-${i}`)))?.json<any>()
        if (completed.has(`e2e-${i}`)) expect(entry, `e2e-${i}`).toMatchObject({ status: "scheduled" })
        else expect(entry?.status, `e2e-${i}`).not.toBe("scheduled")
      }
      // Stock: free + held = start per SKU, held only by completed orders (in the SKU's value until
      // the order's reservation record confirms the hold, then in the record).
      const stock = await kvm.open(Buckets.inventoryStock)
      const records = new Map<string, Reservation>()
      for (let i = 0; i < N; i++) {
        const record = (await stock.get(reservationKey(`e2e-${i}`)))?.json<unknown>()
        if (record !== undefined) records.set(`e2e-${i}`, Schema.decodeUnknownSync(Reservation)(record))
      }
      for (let k = 0; k < 5; k++) {
        const entry = Schema.decodeUnknownSync(SkuStock)((await stock.get(skuKey(`sku-${k}`)))!.json<unknown>())
        const holds = holdsOf(`sku-${k}`, entry, records)
        const held = [...holds.values()].reduce((a, b) => a + b, 0)
        expect(entry.available + held).toBe(STOCK)
        expect([...holds.keys()].filter((id) => !completed.has(id))).toEqual([])
      }
      // Timers: none left for good, and some set before the orchestrator died fired after it came back.
      // One may outlive its finished instance: a kill between storing the instance and its timer
      // entry leaves it until the event comes back (after its durable's ack wait). A timer the killed
      // orchestrator held on the shared timer durable comes back only after that durable's ack wait,
      // so it may take that long plus a step timeout.
      const timers = await kvm.open(Buckets.timers)
      const timerKeys = async () => {
        const keys: Array<string> = []
        for await (const key of await timers.keys()) keys.push(key)
        return keys
      }
      const timerAckWaitMs = orderTopology.consumers.find((c) => c.durable === Durables.orchestratorTimers)!.ackWaitMs
      await eventually(async () => (await timerKeys()).length === 0, timerAckWaitMs + 15_000, "no timer left").catch(() => undefined)
      expect(await timerKeys()).toEqual([])
      const survivedRestart = instances.flatMap((x) =>
        x.history.filter((h: any, j: number) => h.event === "StepTimedOut" && h.at >= diedAt && (x.history[j - 1]?.at ?? Infinity) < killedAt))
      expect(survivedRestart.length, "step timeouts set before the kill and fired by the restarted orchestrator").toBeGreaterThan(0)
    } finally {
      await nc.close()
    }
  }, 170_000)
})
