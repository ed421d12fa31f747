import { useNatsServer } from "@conveyor/testing/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { useTestClient } from "../support.js"
import type { StopPoint } from "./fixtures/job.js"
import { cleanupFaults, faultSetup, jobs, publishJobs, readLedger, spawnWorker, storedMessageIds, waitDrained } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
afterAll(cleanupFaults)

/**
 * Worker A stops at `point` while handling job-2 and is SIGKILLed there; worker B takes over the
 * durable. Returns the ledger, the stored outputs and how B settled job-2.
 */
const crashWhileHandling = async (point: StopPoint) => {
  const setup = await faultSetup(conn.runtime, "CRASH", { ackWaitMs: 2_000 })
  const base = { url: server.url, consumer: setup.consumer, bucket: setup.bucket, ledgerFile: setup.ledgerFile, outputSubject: setup.outputSubject }
  const batch = jobs("job", 5)
  await publishJobs(conn.runtime, setup.jobSubject, batch)
  // One at a time, so job-2 is the only message in flight when A dies: jobs 0 and 1 are settled.
  const a = await spawnWorker({ ...base, concurrency: 1, stopAt: point, stopOn: "job-2" })
  await a.waitForLine((l) => l === `stuck ${point} job-2`)
  a.signal("SIGKILL")
  expect((await a.exited).signal).toBe("SIGKILL")

  const b = await spawnWorker(base)
  // A redelivery that beats A's lease by a few ms is deferred first ("held elsewhere"): wait for
  // the settlement that decided the message.
  const settledB = (await b.waitForLine((l) => l.startsWith("settled job-2 ") && !l.startsWith("settled job-2 deferred "))).split(" ")
  await waitDrained(conn.client, setup.name, "worker")
  const outputs = await storedMessageIds(conn.client, setup.outputStream)
  b.signal("SIGKILL")
  await b.exited
  return { ledger: readLedger(setup.ledgerFile), outputs, settlement: settledB[2], deliveryCount: Number(settledB[3]), ids: batch.map((j) => j.id) }
}

// The three scenarios use their own streams and workers: run them at once (each mostly waits on an ack wait).
describe.concurrent("a worker SIGKILLed while handling a message", () => {
  it("before its side effect: the message is redelivered and the effect happens once", { timeout: 120_000 }, async ({ expect }) => {
    const r = await crashWhileHandling("before-effect")
    expect(r.deliveryCount).toBeGreaterThanOrEqual(2)
    expect(r.settlement).toBe("acked")
    expect(Object.fromEntries(r.ledger)).toEqual(Object.fromEntries(r.ids.map((id) => [id, 1])))
    expect([...r.outputs].sort()).toEqual(r.ids.map((id) => `${id}>done`))
  })

  it("after its effect was recorded but before its ack: redelivered, acked as a duplicate, the effect stays single", { timeout: 120_000 }, async ({ expect }) => {
    const r = await crashWhileHandling("after-commit")
    expect(r.deliveryCount).toBeGreaterThanOrEqual(2)
    expect(r.settlement).toBe("duplicate")
    expect(Object.fromEntries(r.ledger)).toEqual(Object.fromEntries(r.ids.map((id) => [id, 1])))
    expect([...r.outputs].sort()).toEqual(r.ids.map((id) => `${id}>done`))
  })

  it("between its effect and the record: the handler runs again (at-least-once), its derived-id output is stored once", { timeout: 120_000 }, async ({ expect }) => {
    // The window the idempotency store cannot close for an effect outside JetStream: the record is
    // written after the handler returns. Outputs published with derived ids stay single.
    const r = await crashWhileHandling("after-effect")
    expect(r.deliveryCount).toBeGreaterThanOrEqual(2)
    expect(r.settlement).toBe("acked")
    expect(Object.fromEntries(r.ledger)).toEqual(Object.fromEntries(r.ids.map((id) => [id, id === "job-2" ? 2 : 1])))
    expect([...r.outputs].sort()).toEqual(r.ids.map((id) => `${id}>done`))
  })
})
