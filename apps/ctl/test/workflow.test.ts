import { OrderPlaced, orderWorkflow, PaymentCaptured, ShipmentScheduled, StockReserved } from "@conveyor/domain"
import { apply, instanceJson, start } from "@conveyor/workflow"
import { Kvm } from "@nats-io/kv"
import { jetstream } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { Either, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { WorkflowView } from "../src/index.js"
import { runInProcess } from "./support.js"

const server = useNatsServer()
let nc: NatsConnection
beforeAll(async () => {
  nc = await connect({ servers: server.url })
  await new Kvm(jetstream(nc)).create("order-workflows", { history: 5 })
})
afterAll(async () => {
  await nc?.close()
})

const T0 = Date.parse("2026-01-01T10:00:00Z")
const encode = Schema.encodeSync(instanceJson(orderWorkflow))

/**
 * Stores an order that was placed and had its stock reserved (`finished`: then completed), as the
 * orchestrator would; `rewrite` changes the stored JSON.
 */
const storeOrder = async (extra: Record<string, unknown> = {}, finished = false, rewrite = (json: Record<string, unknown>) => json) => {
  const orderId = uniqueName("o").replace(/[^A-Za-z0-9_-]/g, "-")
  const placed = OrderPlaced.make({
    orderId, customerId: "c-1", items: [{ sku: "sku-1", quantity: 1, unitPriceCents: 399 }], totalCents: 399, placedAt: "2026-01-01T10:00:00Z"
  })
  const started = Either.getOrThrow(start(orderWorkflow, placed, T0, { causationId: "msg-placed" }))
  const next = [StockReserved.make({ orderId }), ...(finished ? [PaymentCaptured.make({ orderId, paymentId: "p-1", amountCents: 399 }), ShipmentScheduled.make({ orderId, trackingId: "t-1" })] : [])]
  const instance = next.reduce((i, event, n) => {
    const r = Either.getOrThrow(apply(orderWorkflow, i, event, T0 + (n + 1) * 1_000, { causationId: `msg-${event.type}` }))
    if (r._tag !== "Advanced") throw new Error(`expected ${event.type} to advance the workflow`)
    return r.instance
  }, started.instance)
  const json = JSON.stringify(rewrite({ ...JSON.parse(encode(instance)), ...extra }))
  const kv = await new Kvm(jetstream(nc)).open("order-workflows")
  await kv.put(orderId, json)
  return orderId
}

describe("conveyor workflow show", () => {
  it("prints the state, the history in order and says the trace id is not stored", async () => {
    const orderId = await storeOrder()
    const result = await runInProcess("workflow", "show", orderId, "--url", server.url)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const out = result.stdout
    expect(out).toContain(`workflow ${orderId}  (bucket order-workflows, revision`)
    expect(out).toMatch(/state\s+CapturingPayment\n/)
    expect(out).toMatch(/trace id\s+not stored/)
    const first = out.search(/1\s+2026-01-01T10:00:00.000Z\s+OrderPlaced\s+\(start\) -> ReservingStock\s+ReserveStock\s+-\s+msg-placed/)
    const second = out.search(/2\s+2026-01-01T10:00:01.000Z\s+StockReserved\s+ReservingStock -> CapturingPayment\s+CapturePayment\s+-\s+msg-StockReserved/)
    expect(first).toBeGreaterThan(0)
    expect(second).toBeGreaterThan(first)
  })

  it("shows the commands each transition sent and the events it emitted, also for an instance stored before the two were told apart", async () => {
    const finished = await runInProcess("workflow", "show", await storeOrder({}, true), "--url", server.url)
    expect(finished.code).toBe(0)
    expect(finished.stdout).toMatch(/4\s+\S+\s+ShipmentScheduled\s+SchedulingShipment -> Completed\s+-\s+OrderCompleted\s+msg-ShipmentScheduled/)
    // As the previous version stored it: the outcome among the commands, outbox entries without a kind.
    type Stored = { history: Array<Record<string, unknown>>; outbox: Array<Record<string, unknown>> }
    const old = await storeOrder({}, true, (json) => {
      const { history, outbox } = json as Stored
      return {
        ...json,
        history: history.map(({ events, commands, ...h }) => ({ ...h, commands: [...(commands as Array<unknown>), ...(events as Array<unknown>)] })),
        outbox: [...outbox, { id: "x:4:0", message: { type: "OrderCompleted", version: 1, orderId: "x", paymentId: "p-1", trackingId: "t-1" } }].map(({ kind: _kind, ...o }) => o)
      }
    })
    const shown = await runInProcess("workflow", "show", old, "--url", server.url)
    expect(shown.code).toBe(0)
    expect(shown.stdout).not.toContain("note: the entry does not decode")
    expect(shown.stdout).toMatch(/outbox\s+5 message\(s\) not yet confirmed published/)
    expect(shown.stdout).toMatch(/4\s+\S+\s+ShipmentScheduled\s+SchedulingShipment -> Completed\s+OrderCompleted\s+-\s+msg-ShipmentScheduled/)
  })

  it("shows a trace id when the orchestrator stored one, and --json the whole entry", async () => {
    const orderId = await storeOrder({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })
    const result = await runInProcess("workflow", "show", orderId, "--url", server.url, "--json")
    expect(result.code).toBe(0)
    const view = JSON.parse(result.stdout) as WorkflowView
    expect(view).toMatchObject({ id: orderId, decoded: true, traceId: "0af7651916cd43dd8448eb211c80319c" })
    expect((view.raw as { state: { _tag: string } }).state._tag).toBe("CapturingPayment")
  })

  it("shows an entry that does not decode as it is, with a note", async () => {
    const kv = await new Kvm(jetstream(nc)).open("order-workflows")
    await kv.put("odd-one", JSON.stringify({ workflow: "order", something: "else" }))
    const result = await runInProcess("workflow", "show", "odd-one", "--url", server.url)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("note: the entry does not decode as an order workflow instance")
    expect(result.stdout).toContain('"something": "else"')
  })

  it("an unknown workflow or bucket is exit code 5 with one line", async () => {
    const missing = await runInProcess("workflow", "show", "no-such-order", "--url", server.url)
    expect(missing).toMatchObject({ code: 5, stderr: "conveyor: no workflow instance no-such-order in bucket order-workflows" })
    const bucket = await runInProcess("workflow", "show", "x", "--bucket", "nope", "--url", server.url)
    expect(bucket).toMatchObject({ code: 5, stderr: "conveyor: unknown bucket nope" })
  })
})
