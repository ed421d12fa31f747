import { eventually } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Layer } from "effect"
import { createConnection, createServer, type Server, type Socket } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { GatewayRoutesLive } from "../src/index.js"
import { startStack, useStack } from "./support.js"

// Its own file: the server is killed and restarted, which would disturb other tests.
const server = useNatsServer()
const stack = useStack(server, { GATEWAY_REQUEST_TIMEOUT_MS: "1000" }, Layer.empty, GatewayRoutesLive)

// Far above the gateway's 1 s request timeout, far below the 10-20 s a request used to hang.
const CLIENT_PATIENCE_MS = 8_000
const call = async (path: string, init: RequestInit = {}, base = stack.base) => {
  const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(CLIENT_PATIENCE_MS) })
  return { status: response.status, body: (await response.json()) as any }
}
const place = (key: string, base = stack.base) =>
  call("/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ customerId: "c-1", items: [{ sku: "a", quantity: 1, unitPriceCents: 5 }] })
  }, base)

/**
 * A TCP relay to the server that can go silent: the connection stays open, nothing passes. What a
 * stalled broker or a dropped network path looks like to a client that has not noticed yet.
 */
const silentRelay = async (target: string) => {
  const { hostname, port } = new URL(target.replace(/^nats:/, "http:"))
  let silent = false
  const sockets = new Set<Socket>()
  const relay: Server = createServer((client) => {
    const upstream = createConnection(Number(port), hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => s.destroy())
      s.on("close", () => sockets.delete(s))
    }
    client.on("data", (d) => !silent && upstream.write(d))
    upstream.on("data", (d) => !silent && client.write(d))
    client.on("close", () => upstream.destroy())
    upstream.on("close", () => client.destroy())
  })
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve))
  const address = relay.address()
  return {
    url: `nats://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
    goSilent: () => { silent = true },
    /** Talk again; the bytes dropped meanwhile break the session, so clients reconnect through it. */
    resume: () => {
      silent = false
      for (const s of sockets) s.destroy()
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      relay.close(() => resolve())
    })
  }
}

describe("gateway while NATS is down", () => {
  it("answers POST and GET with 503 naming the broker instead of hanging, and takes orders again once it is back", async () => {
    const placed = await place("outage-1")
    expect(placed.status).toBe(202)
    await server.kill()
    try {
      const refused = await place("outage-2")
      expect(refused.status).toBe(503)
      expect(refused.body.reason).toBe("broker-unavailable")
      const read = await call(`/orders/${placed.body.orderId}`)
      expect(read.status).toBe(503)
      expect(read.body.reason).toBe("broker-unavailable")
    } finally {
      await server.restart()
    }
    const retried = await eventually(async () => {
      const r = await place("outage-2")
      return r.status === 202 ? r : undefined
    }, 30_000, "POST to succeed after the restart")
    expect(retried.body.orderId).not.toBe(placed.body.orderId)
  }, 60_000)

  it("answers 503 after GATEWAY_REQUEST_TIMEOUT_MS when the broker stops answering on an open connection", async () => {
    const relay = await silentRelay(server.url)
    const viaRelay = await startStack(relay.url, { GATEWAY_REQUEST_TIMEOUT_MS: "1000" }, Layer.empty, GatewayRoutesLive)
    try {
      const placed = await place("silent-1", viaRelay.base)
      expect(placed.status).toBe(202)
      relay.goSilent()
      const refused = await place("silent-2", viaRelay.base)
      expect(refused.status).toBe(503)
      expect(refused.body).toMatchObject({ reason: "broker-unavailable" })
      expect(refused.body.error).toContain("no answer within 1000 ms")
      const read = await call(`/orders/${placed.body.orderId}`, {}, viaRelay.base)
      expect(read.status).toBe(503)
    } finally {
      relay.resume()
      await viaRelay.close()
      await relay.close()
    }
  }, 60_000)
})
