import { eventually } from "@conveyor/testing"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureTopology } from "../src/index.js"
import { openClient } from "./support.js"

const server = useNatsServer()
let conn: Awaited<ReturnType<typeof openClient>>
const dir = mkdtempSync(join(tmpdir(), "conveyor-shutdown-"))
const children: Array<ChildProcess> = []
beforeAll(async () => {
  conn = await openClient(server.url)
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, "SIGKILL")
  await conn?.close()
  rmSync(dir, { recursive: true, force: true })
})

const setup = async (messages: number) => {
  const stream = uniqueName("SD")
  const subject = `${stream.toLowerCase()}.jobs`
  // A short ack wait: messages fetched but never started come back quickly for the check below.
  await conn.runtime.runPromise(
    ensureTopology(defineTopology({ streams: [{ name: stream, subjects: [subject], storage: "memory" }], consumers: [{ stream, durable: "worker", ackWaitMs: 5_000 }] }))
  )
  for (let i = 0; i < messages; i++) await conn.client.js.publish(subject, JSON.stringify({ id: `job-${i}` }), { msgID: `job-${i}` })
  return { stream, subject }
}

const startWorker = (stream: string, ledger: string, handlerMs: number, graceMs: number) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=@conveyor/source", new URL("./runtime-shutdown-worker.ts", import.meta.url).pathname, server.url, stream, ledger, String(handlerMs), String(graceMs)],
    { stdio: ["ignore", "pipe", "pipe"], cwd: new URL("..", import.meta.url).pathname }
  )
  children.push(child)
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  return { child, exited, output: () => output }
}

const readLedger = (path: string) => {
  let text = ""
  try {
    text = readFileSync(path, "utf8")
  } catch {
    return { started: [] as Array<string>, done: [] as Array<string> }
  }
  const lines = text.split("\n").filter((l) => l.length > 0)
  return { started: lines.filter((l) => l.startsWith("start ")).map((l) => l.slice(6)), done: lines.filter((l) => l.startsWith("done ")).map((l) => l.slice(5)) }
}

describe("graceful shutdown of a worker process", () => {
  it("on SIGTERM lets in-flight handlers finish, acks them, exits 0, and nothing done comes back", async () => {
    const { stream } = await setup(40)
    const ledger = join(dir, "graceful.log")
    const w = startWorker(stream, ledger, 400, 20_000)
    await eventually(() => readLedger(ledger).started.length >= 4, 60_000, `handlers to start\n${w.output()}`)
    w.child.kill("SIGTERM")
    const exit = await w.exited
    expect(exit, w.output()).toEqual({ code: 0, signal: null })
    const { started, done } = readLedger(ledger)
    expect(started.length).toBeGreaterThanOrEqual(4)
    expect([...done].sort()).toEqual([...started].sort()) // every handler in flight finished
    expect(new Set(done).size).toBe(done.length)
    // What was done is acked: it is neither pending nor coming back; the rest is still there.
    const info = await conn.client.jsm.consumers.info(stream, "worker")
    // Unacked: only what was handed out but never started (the pull batch of 4 plus the runner's
    // hand-off slot and the delivery waiting for it).
    expect(info.num_ack_pending).toBeLessThanOrEqual(6)
    expect(info.num_ack_pending + info.num_pending).toBe(40 - done.length)
    const redelivered: Array<string> = []
    const consumer = await conn.client.js.consumers.get(stream, "worker")
    const remaining = 40 - done.length
    while (redelivered.length < remaining) {
      const m = await consumer.next({ expires: 10_000 })
      if (m === null) break
      redelivered.push((m.json() as { id: string }).id)
      m.ack()
    }
    expect(redelivered).toHaveLength(remaining)
    expect(redelivered.filter((id) => done.includes(id))).toEqual([])
    expect(new Set([...redelivered, ...done]).size).toBe(40)
  }, 150_000)

  it("exits at once on a second signal, without waiting for the grace", async () => {
    const { stream } = await setup(4)
    const ledger = join(dir, "hard.log")
    const w = startWorker(stream, ledger, 60_000, 60_000)
    await eventually(() => readLedger(ledger).started.length >= 1, 60_000, `a handler to start\n${w.output()}`)
    w.child.kill("SIGTERM")
    await eventually(() => w.output().includes("stopping gracefully"), 30_000, `the first signal to be seen\n${w.output()}`)
    // Signals within a second of the first are the same stop request (delivered by several processes).
    await new Promise((r) => setTimeout(r, 1_500))
    w.child.kill("SIGTERM")
    const exit = await w.exited
    expect(exit.code).toBe(130)
    expect(readLedger(ledger).done).toEqual([])
    expect(w.output()).toMatch(/received again: exiting now/)
  }, 120_000)
})
