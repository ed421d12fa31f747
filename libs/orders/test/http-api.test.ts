import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { request } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GatewayRoutesLive } from "../src/index.js"
import { getOrder, order, postOrder, startStack } from "./support.js"

// Only the gateway runs: these tests are about the HTTP contract, not the workflow behind it.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
beforeAll(async () => {
  stack = await startStack(server.url, { GATEWAY_MAX_BODY_BYTES: "2048" }, Layer.empty, GatewayRoutesLive)
})
afterAll(async () => {
  await stack?.close()
})

describe("gateway HTTP API", () => {
  it("accepts a valid order with 202 and its id, then shows it", async () => {
    const placed = await postOrder(stack.base, { customerId: "c-1", items: [{ sku: "a", quantity: 1, unitPriceCents: 10 }] })
    expect(placed.status).toBe(202)
    expect(placed.body.orderId).toMatch(/^ord_[0-9a-f]{32}$/)
    expect(placed.body.duplicate).toBe(false)
    const shown = await getOrder(stack.base, placed.body.orderId)
    expect(shown.status).toBe(200)
    expect(shown.body).toMatchObject({ orderId: placed.body.orderId, status: "accepted", history: [] })
  })

  it.each([
    ["a missing customer", { items: [{ sku: "a", quantity: 1, unitPriceCents: 1 }] }, "customerId"],
    ["a zero quantity", { customerId: "c", items: [{ sku: "a", quantity: 0, unitPriceCents: 1 }] }, "items.0.quantity"],
    ["a negative price", { customerId: "c", items: [{ sku: "a", quantity: 1, unitPriceCents: -5 }] }, "items.0.unitPriceCents"],
    ["no items", { customerId: "c", items: [] }, "items"],
    ["an order id with a dot", { orderId: "a.b", customerId: "c", items: [{ sku: "a", quantity: 1, unitPriceCents: 1 }] }, "orderId"],
    ["an unknown field", { customerId: "c", items: [{ sku: "a", quantity: 1, unitPriceCents: 1 }], coupon: "x" }, "coupon"]
  ])("answers 400 naming the field for %s", async (_what, body, field) => {
    const r = await postOrder(stack.base, body)
    expect(r.status).toBe(400)
    expect(r.body.field).toBe(field)
    expect(r.body.error).toContain(field)
  })

  it("answers 400 for a body that is not JSON", async () => {
    const r = await postOrder(stack.base, "{not json")
    expect(r.status).toBe(400)
    expect(r.body.error).toMatch(/not valid JSON/)
  })

  it("answers 413 for an oversized body, declared or streamed without a length", async () => {
    const big = JSON.stringify(order("big", "c", [{ sku: "x".repeat(60), quantity: 1, unitPriceCents: 1 }])).padEnd(5_000, " ")
    expect((await postOrder(stack.base, big)).status).toBe(413)
    // Chunked, so no Content-Length to reject up front: the body limit itself must stop it.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${stack.base}/orders`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on("error", reject)
      for (let i = 0; i < 10; i++) req.write(" ".repeat(500))
      req.end()
    })
    expect(status).toBe(413)
  })

  it("answers 404 for an unknown order id and for an id that cannot exist", async () => {
    expect((await getOrder(stack.base, "never-placed")).status).toBe(404)
    expect((await getOrder(stack.base, "bad%20id")).status).toBe(404)
  })

  it("returns the same order for a repeated Idempotency-Key, also when the repeats race", async () => {
    const body = { customerId: "c-9", items: [{ sku: "a", quantity: 1, unitPriceCents: 10 }] }
    const first = await postOrder(stack.base, body, { "Idempotency-Key": "req-1" })
    const again = await postOrder(stack.base, body, { "Idempotency-Key": "req-1" })
    expect(first.status).toBe(202)
    expect(again.status).toBe(202)
    expect(again.body).toMatchObject({ orderId: first.body.orderId, duplicate: true })
    const racing = await Promise.all(Array.from({ length: 8 }, () => postOrder(stack.base, body, { "Idempotency-Key": "req-2" })))
    expect(new Set(racing.map((r) => r.body.orderId)).size).toBe(1)
    expect(racing.filter((r) => r.body.duplicate === false)).toHaveLength(1)
    const other = await postOrder(stack.base, body, { "Idempotency-Key": "req-3" })
    expect(other.body.orderId).not.toBe(first.body.orderId)
  })
})
