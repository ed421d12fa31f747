import { LocalNatsProcess } from "@conveyor/testing"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { closedLoop } from "../src/chain.js"
import { startBullmqProcesses, startRawProcesses } from "../src/chain-processes.js"
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
})
