// The gateway stopped under load: clients on kept-alive connections keep placing orders while it
// gets SIGTERM. Every request gets an answer (202 before the stop, 503 or a refused connection
// after it), none hangs, and the process exits 0 without its watchdog.
import { useNatsServer } from "@conveyor/testing/vitest"
import { Agent, request } from "node:http"
import { describe, expect, it } from "vitest"
import { startAppProcess } from "@conveyor/testing/app-process"

const server = useNatsServer()

const post = (agent: Agent, url: URL, i: number) =>
  new Promise<number | string>((resolve) => {
    const body = JSON.stringify({ customerId: `c-${i}`, items: [{ sku: "widget", quantity: 1, unitPriceCents: 100 }] })
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
      res.on("error", (e) => resolve(`error ${e.message}`))
    })
    // A request that never gets an answer would hang the test; a refused or reset connection is an answer.
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    req.end(body)
  })

describe("gateway graceful stop", () => {
  it("answers every request in flight or arriving during the stop, and exits 0", async () => {
    const gateway = await startAppProcess("gateway", { NATS_URL: server.url })
    await gateway.waitReady(120_000)
    const url = new URL("/orders", gateway.url)
    const agent = new Agent({ keepAlive: true, maxSockets: 16 })
    let stopped = false
    const results: Array<number | string> = []
    // 16 clients, each sending its next order as soon as the previous one is answered, and three
    // more once the stop has begun.
    const clients = Array.from({ length: 16 }, async (_, c) => {
      let afterStop = 0
      for (let i = 0; !stopped || afterStop++ < 3; i++) {
        const result = await post(agent, url, c * 10_000 + i)
        results.push(result)
        if (typeof result === "string") return // the listener is gone: nothing more to send
      }
    })
    while (results.filter((r) => r === 202).length < 50) await new Promise((r) => setTimeout(r, 50))
    const exit = gateway.stop("SIGTERM")
    stopped = true
    await Promise.all(clients)
    agent.destroy()
    expect(await exit, gateway.output()).toBe(0)
    expect(gateway.output()).not.toMatch(/graceful stop did not finish/)
    const unexpected = results.filter((r) => r !== 202 && r !== 503 && r !== "ECONNREFUSED" && r !== "ECONNRESET")
    expect(unexpected, JSON.stringify(results)).toEqual([])
  }, 180_000)
})
