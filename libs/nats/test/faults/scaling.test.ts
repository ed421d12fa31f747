import { eventually } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { openClient } from "../support.js"
import { cleanupFaults, type FaultSetup, faultSetup, jobs, publishJobs, runJobWorker, storedMessageIds, waitDrained } from "./support.js"

const server = useNatsServer()
let conn: Awaited<ReturnType<typeof openClient>>
const opened: Array<{ close: () => Promise<void> }> = []
beforeAll(async () => {
  conn = await openClient(server.url)
})
afterAll(async () => {
  await cleanupFaults()
  for (const c of opened.splice(0).reverse()) await c.close().catch(() => undefined)
  await conn?.close()
})

/** Handler runs per id across every runner: the side effect. */
const runs = new Map<string, number>()

/** A runner on its own connection, as a separate instance would be. */
const startRunner = async (setup: FaultSetup, label: string) => {
  const own = await openClient(server.url, label)
  opened.push(own)
  let handled = 0
  const running = await runJobWorker(own, setup, {
    runs,
    before: () => Effect.zipRight(Effect.sync(() => void handled++), Effect.sleep("5 millis")),
    retry: { maxAttempts: 10, initialDelayMs: 200, maxDelayMs: 1_000 },
    concurrency: 4,
    shutdownGraceMs: 10_000
  })
  return {
    handled: () => handled,
    /** Graceful: stop pulling, finish in-flight handlers, then drain the connection. */
    stop: async () => {
      await running.close()
      await own.close()
    }
  }
}

describe("one durable scaled from 1 to 3 runners and back under load", () => {
  it("side-effects each event once and leaves nothing pending", { timeout: 90_000 }, async () => {
    const setup = await faultSetup(conn.runtime, "SCALE", { ackWaitMs: 2_000 })
    const total = 3_000
    const all = jobs("s", total)
    // Publishing goes on while runners join and leave; the last third is published only after
    // the scale-down, so the single remaining runner provably takes load again.
    const publishPaced = async (from: number, to: number) => {
      for (let i = from; i < to; i += 100) {
        await publishJobs(conn.runtime, setup.jobSubject, all.slice(i, Math.min(i + 100, to)))
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    const first = await startRunner(setup, "runner-1")
    const phase1 = publishPaced(0, 1_000)
    await eventually(() => runs.size >= 300, 30_000, "runner-1 to take load")
    const second = await startRunner(setup, "runner-2")
    const third = await startRunner(setup, "runner-3")
    await phase1
    await publishPaced(1_000, 2_000)
    await eventually(() => second.handled() > 0 && third.handled() > 0 && runs.size >= 1_500, 30_000, "three runners sharing the load")
    await Promise.all([second.stop(), third.stop()])
    const afterScaleDown = runs.size
    await publishPaced(2_000, total)
    await waitDrained(conn.client, setup.name, "worker", 30_000)
    await eventually(() => runs.size === total, 30_000, "every event handled")
    const outputs = await storedMessageIds(conn.client, setup.outputStream)
    const handledBy = [first.handled(), second.handled(), third.handled()]
    await first.stop()

    console.log(`[scaling] handled per runner ${handledBy.join(" / ")}, ${total - afterScaleDown} after scaling back to one`)
    expect(afterScaleDown).toBeLessThanOrEqual(2_000)
    expect(handledBy.every((n) => n > 0)).toBe(true)
    expect(handledBy.reduce((a, b) => a + b, 0)).toBe(total)
    expect([...runs.values()].every((n) => n === 1)).toBe(true)
    expect(new Set(outputs)).toEqual(new Set(all.map((j) => `${j.id}>done`)))
    expect(outputs).toHaveLength(total)
    const info = await conn.client.jsm.consumers.info(setup.name, "worker")
    expect(info.num_pending + info.num_ack_pending).toBe(0)
    expect(info.delivered.stream_seq).toBe(total)
  })
})
