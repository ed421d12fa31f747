import { Buckets, type OrderCommand } from "@conveyor/domain"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { InventoryWorkerLive, skuKey } from "../src/index.js"
import { eventsStored, sendCommand, startStack } from "./support.js"

// A SKU's value is compare-and-set by every order that holds it. It used to keep every order it
// ever served (held, or closed after a release): ~30 bytes an order, re-encoded at every hold,
// until the server's 1 MB value limit refused the SKU's writes for good (~40,000 orders of one
// SKU). It must keep only the orders under way.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
let nc: NatsConnection
const STOCK = 1_000_000
beforeAll(async () => {
  stack = await startStack(server.url, { INVENTORY_DEFAULT_STOCK: String(STOCK) }, InventoryWorkerLive)
  nc = await connect({ servers: server.url })
}, 120_000)
afterAll(async () => {
  await stack?.close()
  await nc?.close()
})

const send = (command: OrderCommand, msgId: string) => sendCommand(nc, command, msgId)
const answered = (type: string, count: number) => eventsStored(nc, type, count, 60_000)

describe("a SKU many orders have held", () => {
  it("keeps in its value only the orders under way, not every order it served", async () => {
    const items = [{ sku: "grows", quantity: 2, unitPriceCents: 1 }]
    const N = 300
    const reserve = (orderId: string) => send({ type: "ReserveStock", version: 1, orderId, attempt: 1, items }, `${orderId}:1:0`)
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => reserve(`grow-${i + k}`)))
      await answered("stock-reserved", i + 50)
    }
    // A third of them cancelled: their stock comes back.
    const released = Array.from({ length: N / 3 }, (_, k) => `grow-${3 * k}`)
    await Promise.all(released.map((orderId) => send({ type: "ReleaseStock", version: 1, orderId, attempt: 1, items }, `${orderId}:2:0`)))
    await answered("stock-released", released.length)
    // One more order: the SKU's next write.
    await reserve("grow-last")
    await answered("stock-reserved", N + 1)

    const entry = await (await new Kvm(nc).open(Buckets.inventoryStock)).get(skuKey("grows"))
    const value = entry!.json<{ available: number; held: Record<string, number>; closed: Array<string> }>()
    expect(value.available).toBe(STOCK - 2 * (N + 1 - released.length))
    expect(Object.keys(value.held)).toEqual(["grow-last"])
    expect(value.closed).toEqual([])
    expect(entry!.length).toBeLessThan(200)
  })
})
