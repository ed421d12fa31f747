import { StreamNames } from "@conveyor/domain"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { request } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { GatewayRoutesLive } from "../src/index.js"
import { getOrder, order, postOrder, useStack } from "./support.js"

// Only the gateway runs: these tests are about the HTTP contract, not the workflow behind it.
const server = useNatsServer()
const stack = useStack(server, { GATEWAY_MAX_BODY_BYTES: "16384" }, Layer.empty, GatewayRoutesLive)

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
    ["an unknown field", { customerId: "c", items: [{ sku: "a", quantity: 1, unitPriceCents: 1 }], coupon: "x" }, "coupon"],
    ["a total past what JavaScript counts exactly", { customerId: "c", items: [{ sku: "a", quantity: 1_000_000, unitPriceCents: Number.MAX_SAFE_INTEGER }] }, "items"]
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
    const big = JSON.stringify(order("big", "c", [{ sku: "x".repeat(60), quantity: 1, unitPriceCents: 1 }])).padEnd(20_000, " ")
    expect((await postOrder(stack.base, big)).status).toBe(413)
    // Chunked, so no Content-Length to reject up front: the body limit itself must stop it.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${stack.base}/orders`, { method: "POST", headers: { "transfer-encoding": "chunked", "content-type": "application/json" } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on("error", reject)
      for (let i = 0; i < 40; i++) req.write(" ".repeat(500))
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

const item = (sku: string, quantity = 1) => ({ sku, quantity, unitPriceCents: 10 })

describe("gateway HTTP API: conflicting and hostile requests", () => {
  it("refuses a second, different order under a client's order id (409 naming it); the same request repeated stays idempotent", async () => {
    const first = { orderId: "my-order-1", customerId: "c-1", items: [item("a")] }
    const other = { orderId: "my-order-1", customerId: "c-2", items: [item("b", 3)] }
    expect((await postOrder(stack.base, first)).body).toMatchObject({ orderId: "my-order-1", duplicate: false })
    for (const headers of [{}, { "Idempotency-Key": "other-key-5" }]) {
      const refused = await postOrder(stack.base, other, headers)
      expect(refused.status).toBe(409)
      expect(refused.body.error).toContain("my-order-1")
    }
    const repeated = await postOrder(stack.base, first)
    expect(repeated.status).toBe(202)
    expect(repeated.body).toMatchObject({ orderId: "my-order-1", duplicate: true })
    // The refused request did not keep its key: with another order id it goes through.
    const fixed = await postOrder(stack.base, { ...other, orderId: "my-order-2" }, { "Idempotency-Key": "other-key-5" })
    expect(fixed.status).toBe(202)
    expect(fixed.body).toMatchObject({ orderId: "my-order-2", duplicate: false })
  })

  it("binds an Idempotency-Key to its request: another body is 422 naming the key, the same body gets the original answer", async () => {
    const body = { customerId: "c-6", items: [item("a")] }
    const first = await postOrder(stack.base, body, { "Idempotency-Key": "key-6" })
    expect(first.status).toBe(202)
    const changed = await postOrder(stack.base, { ...body, items: [item("a", 2)] }, { "Idempotency-Key": "key-6" })
    expect(changed.status).toBe(422)
    expect(changed.body.error).toContain("key-6")
    const again = await postOrder(stack.base, body, { "Idempotency-Key": "key-6" })
    expect(again.status).toBe(202)
    expect(again.body).toMatchObject({ orderId: first.body.orderId, duplicate: true })
  })

  it.each([
    ["arrays", "[".repeat(6_000) + "]".repeat(6_000)],
    ["objects", '{"a":'.repeat(2_500) + "1" + "}".repeat(2_500)]
  ])("answers 400 naming the problem for deeply nested %s", async (_what, text) => {
    const r = await postOrder(stack.base, text)
    expect(r.status).toBe(400)
    expect(r.body.error).toMatch(/nests deeper than \d+ levels/)
  })

  it("never echoes the request or dumps the schema in a 400", async () => {
    const array = await fetch(`${stack.base}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: "[1,2,3]" })
    expect(array.status).toBe(400)
    const arrayText = await array.text()
    expect(arrayText).not.toMatch(/readonly|customerId/)
    expect(JSON.parse(arrayText).error).toBe("invalid field (body): expected an object")
    const longSku = "x".repeat(10_000)
    for (const body of [{ customerId: "c", items: [item(longSku)] }, { customerId: "c", items: [item("a")], [longSku]: 1 }]) {
      const r = await fetch(`${stack.base}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      expect(r.status).toBe(400)
      const text = await r.text()
      expect(text).not.toContain("x".repeat(100))
      expect(text.length).toBeLessThan(1_000)
    }
  })

  it("answers 415 unless the body is application/json", async () => {
    const body = JSON.stringify({ customerId: "c", items: [item("a")] })
    for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
      const r = await fetch(`${stack.base}/orders`, { method: "POST", headers: { "content-type": type }, body })
      expect(r.status).toBe(415)
    }
    expect((await postOrder(stack.base, JSON.parse(body), { "content-type": "application/json; charset=utf-8" })).status).toBe(202)
  })

  it("answers 405 with Allow for methods the order routes do not serve", async () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [["PUT", "/orders", "POST"], ["DELETE", "/orders", "POST"], ["DELETE", "/orders/x-1", "GET"], ["PUT", "/orders/x-1", "GET"]]
    for (const [method, path, allow] of cases) {
      const r = await fetch(`${stack.base}${path}`, { method })
      expect(r.status).toBe(405)
      expect(r.headers.get("allow")).toBe(allow)
    }
  })

  it("leaves nothing of an order the stream refused (full): 503 says so, GET is 404, a retry with the key publishes it", async () => {
    const nc = await connect({ servers: server.url })
    const jsm = await jetstreamManager(nc)
    const original = (await jsm.streams.info(StreamNames.events)).config
    const stored = async () => (await jsm.streams.info(StreamNames.events)).state.messages
    try {
      await jsm.streams.update(StreamNames.events, { ...original, max_msgs: await stored(), discard: "new" as never })
      const body = { orderId: "full-1", customerId: "c-8", items: [item("a")] }
      const refused = await postOrder(stack.base, body, { "Idempotency-Key": "key-8" })
      expect(refused.status).toBe(503)
      expect(refused.body.reason).toBe("stream-full")
      expect((await getOrder(stack.base, "full-1")).status).toBe(404)
      const generated = await postOrder(stack.base, { customerId: "c-8", items: [item("a")] }, { "Idempotency-Key": "key-8b" })
      expect(generated.status).toBe(503)
      await jsm.streams.update(StreamNames.events, original)
      const before = await stored()
      const retried = await postOrder(stack.base, body, { "Idempotency-Key": "key-8" })
      expect(retried.status).toBe(202)
      expect(retried.body).toMatchObject({ orderId: "full-1", duplicate: false })
      expect(await stored()).toBe(before + 1)
      expect((await getOrder(stack.base, "full-1")).body.status).toBe("accepted")
    } finally {
      await jsm.streams.update(StreamNames.events, original)
      await nc.close()
    }
  })
})
