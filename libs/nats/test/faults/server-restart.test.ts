import { eventually } from "@conveyor/testing"
import { Publisher } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { JetStreamPublisherLive } from "../../src/index.js"
import { useTestClient } from "../support.js"
import { cleanupFaults, faultSetup, jobMessage, jobs, runJobWorker, storedMessageIds, waitDrained } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
afterAll(cleanupFaults)

describe("nats-server SIGKILLed and restarted under publish and consume load", () => {
  it("processes every PubAck'd event exactly once in effect and loses none", { timeout: 120_000 }, async () => {
    const setup = await faultSetup(conn.runtime, "RESTART", { ackWaitMs: 2_000 })
    const runs = new Map<string, number>()
    const consumer = await runJobWorker(conn, setup, {
      runs,
      before: () => Effect.sleep("2 millis"),
      retry: { maxAttempts: 50, initialDelayMs: 200, maxDelayMs: 1_000 },
      concurrency: 16
    })

    // The publisher retries a failed publish with the same message id until the stream confirms
    // it; only confirmed ids count.
    const publisher = await conn.runtime.runPromise(Effect.provide(Publisher, JetStreamPublisherLive))
    const total = 3_000
    const all = jobs("ev", total)
    const acked = new Set<string>()
    let failedAttempts = 0
    let next = 0
    const lane = async () => {
      while (next < total) {
        const job = all[next++]!
        const deadline = Date.now() + 60_000
        for (;;) {
          const result = await Effect.runPromise(Effect.either(publisher.publish(jobMessage(setup.jobSubject, job))))
          if (result._tag === "Right") {
            acked.add(job.id)
            break
          }
          failedAttempts++
          if (Date.now() > deadline) throw new Error(`publish of ${job.id} kept failing: ${result.left.message}`)
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    }
    const publishing = Promise.all(Array.from({ length: 8 }, lane))

    await eventually(() => acked.size >= total / 3 && runs.size > 0, 30_000, "load before the crash")
    const processedBeforeKill = runs.size
    await server.kill()
    const ackedAtKill = acked.size
    await new Promise((r) => setTimeout(r, 500))
    await server.restart()
    await publishing

    await eventually(async () => (await conn.client.jsm.streams.info(setup.outputStream)).state.messages >= acked.size, 60_000, "every acked event to be processed")
    await waitDrained(conn.client, setup.name, "worker")
    const outputs = await storedMessageIds(conn.client, setup.outputStream)
    await consumer.close()

    const reruns = [...runs.values()].filter((n) => n > 1).length
    console.log(
      `[server-restart] acked ${acked.size}/${total} (${ackedAtKill} before the kill, ${failedAttempts} failed publish attempts retried), ` +
        `processed before kill ${processedBeforeKill}, handler re-runs ${reruns}, outputs stored ${outputs.length}`
    )
    expect(acked.size).toBe(total)
    expect(ackedAtKill).toBeLessThan(total)
    expect(outputs).toHaveLength(total)
    expect(new Set(outputs)).toEqual(new Set(all.map((j) => `${j.id}>done`)))
    for (const job of all) expect(runs.get(job.id) ?? 0).toBeGreaterThanOrEqual(1)
    const stream = await conn.client.jsm.streams.info(setup.name)
    expect(stream.state.messages).toBe(total)
  })
})
