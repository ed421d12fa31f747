import { LocalNatsProcess } from "@conveyor/testing"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { closedLoop } from "../src/chain.js"
import { startBullmqProcesses, startConveyorHalves, startRawProcesses } from "../src/chain-processes.js"
import { rawClient, type RawClient } from "../src/harness.js"
import { type LocalRedis, startRedis } from "../src/redis.js"
import type { Target } from "../src/target.js"

// The chain section's comparison sides as processes (`npm run bench` runs them compiled; here from
// the sources through tsx), 2 processes per part so that parts share their durable or queue.
const ORDERS = 20

let server: LocalNatsProcess
let raw: RawClient
let redis: LocalRedis

beforeAll(async () => {
  server = await LocalNatsProcess.start()
  raw = await rawClient(server.url)
  redis = await startRedis()
}, 60_000)

afterAll(async () => {
  await raw?.nc.close()
  await redis?.stop()
  await server?.stop()
})

/** The ids of the orders that finished through `target` while the closed loop placed `ORDERS`. */
const finishedOrders = async (target: Target): Promise<ReadonlySet<string>> => {
  const finished = new Set<string>()
  const stop = target.onFinished((id) => finished.add(id))
  try {
    await closedLoop(raw, target, ORDERS, 4)
  } finally {
    stop()
    await target.close()
  }
  return finished
}

describe("the chain's comparison sides as processes", () => {
  it("raw nats.js chain: an ingress and 2 processes per hop carry every order to the last subject", async () => {
    const target = await startRawProcesses(raw, server.url, server.monitorPort, server.pid, 2, "source")
    expect((await finishedOrders(target)).size).toBe(ORDERS)
  }, 240_000)

  it("BullMQ chain: an ingress and 2 processes per step's Worker run every order's last step", async () => {
    const target = await startBullmqProcesses(redis, 4, 2, "source")
    expect((await finishedOrders(target)).size).toBe(ORDERS)
  }, 240_000)

  it("raw nats.js chain in two halves: the ingress and the first hops in one process, the rest in the other", async () => {
    const target = await startRawProcesses(raw, server.url, server.monitorPort, server.pid, "halves", "source")
    expect((await finishedOrders(target)).size).toBe(ORDERS)
  }, 240_000)

  it("BullMQ chain in two halves: the ingress and the first steps' Workers in one process, the rest in the other", async () => {
    const target = await startBullmqProcesses(redis, 4, "halves", "source")
    expect((await finishedOrders(target)).size).toBe(ORDERS)
  }, 240_000)

  it("order workflow in two halves: gateway and orchestrator in one process, the workers and the notifier in the other", async () => {
    const target = await startConveyorHalves(raw, server.url, server.monitorPort, server.pid, "source")
    expect((await finishedOrders(target)).size).toBe(ORDERS)
  }, 240_000)
})
