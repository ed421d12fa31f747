import { useNatsServer } from "@conveyor/testing/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { useTestClient } from "../support.js"
import { cleanupFaults, faultSetup, jobs, publishJobs, readLedger, spawnWorker, storedMessageIds, waitDrained } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
afterAll(cleanupFaults)

const settledIds = (lines: ReadonlyArray<string>, settlement: string) =>
  lines.filter((l) => l.startsWith("settled ") && l.split(" ")[2] === settlement).map((l) => l.split(" ")[1]!)

describe("SIGTERM with handlers in flight", () => {
  it("lets them finish, exits 0, and nothing done is redelivered", { timeout: 120_000 }, async () => {
    const setup = await faultSetup(conn.runtime, "SIGTERM", { ackWaitMs: 2_000 })
    const base = { url: server.url, consumer: setup.consumer, bucket: setup.bucket, ledgerFile: setup.ledgerFile, outputSubject: setup.outputSubject }
    const batch = jobs("t", 12)
    await publishJobs(conn.runtime, setup.jobSubject, batch)

    // Each handler takes 0.8 s, long enough to be caught in flight.
    const a = await spawnWorker({ ...base, concurrency: 4, handlerMs: 800, shutdownGraceMs: 20_000 })
    await a.waitForLine(() => a.lines.filter((l) => l.startsWith("handling ")).length >= 4)
    const idsOf = (prefix: string) => a.lines.filter((l) => l.startsWith(prefix)).map((l) => l.split(" ")[1]!)
    const finishedBefore = new Set(idsOf("effect "))
    const inFlightAtSignal = idsOf("handling ").filter((id) => !finishedBefore.has(id))
    a.signal("SIGTERM")
    expect(inFlightAtSignal.length).toBeGreaterThanOrEqual(1)
    const exit = await a.exited
    expect(exit).toEqual({ code: 0, signal: null })

    // Every handler that was running when the signal came finished and was acked.
    const ackedByA = settledIds(a.lines, "acked")
    for (const id of inFlightAtSignal) expect(ackedByA).toContain(id)
    // Whatever A started, it finished: no handler was cut off.
    const startedByA = idsOf("handling ")
    expect([...ackedByA].sort()).toEqual([...startedByA].sort())

    const b = await spawnWorker(base)
    await waitDrained(conn.client, setup.name, "worker")
    await b.waitForLine(() => settledIds(b.lines, "acked").length + ackedByA.length >= batch.length)
    const handledByB = b.lines.filter((l) => l.startsWith("handling ")).map((l) => l.split(" ")[1]!)
    const redeliveredToB = b.lines.filter((l) => l.startsWith("settled ")).map((l) => l.split(" ")[1]!)
    b.signal("SIGTERM")
    expect((await b.exited).code).toBe(0)

    // Nothing A acked came back; the rest was handled by B; each effect happened once.
    for (const id of ackedByA) expect(redeliveredToB).not.toContain(id)
    expect([...ackedByA, ...handledByB].sort()).toEqual(batch.map((j) => j.id).sort())
    expect(Object.fromEntries(readLedger(setup.ledgerFile))).toEqual(Object.fromEntries(batch.map((j) => [j.id, 1])))
    expect((await storedMessageIds(conn.client, setup.outputStream)).sort()).toEqual(batch.map((j) => `${j.id}>done`).sort())
    console.log(`[sigterm] in flight at the signal: ${inFlightAtSignal.length}, finished by the stopping worker: ${ackedByA.length}, left for the next: ${handledByB.length}`)
  })
})
