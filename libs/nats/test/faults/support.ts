import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy, Publisher, type RetryPolicy } from "@conveyor/messaging"
import { uniqueName } from "@conveyor/testing/vitest"
import { defineTopology, type Topology } from "@conveyor/topology"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { ensureTopology, JetStreamPublisherLive, type NatsClient, openKvIdempotencyStore, runJetStreamConsumer } from "../../src/index.js"
import { runScoped, type TestRuntime } from "../support.js"
import { Job, type WorkerConfig } from "./fixtures/job.js"

const here = dirname(fileURLToPath(import.meta.url))
const projectRoot = join(here, "..", "..")

// Ledger directories of this test file, removed by `cleanupFaults`.
const ledgerDirs = new Set<string>()
const ledgerFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-ledger-"))
  ledgerDirs.add(dir)
  return join(dir, "ledger.txt")
}

/** One job stream, one output stream (the effect ledger on the broker), one durable and one idempotency bucket. */
export const faultSetup = async (
  runtime: TestRuntime,
  prefix: string,
  options: { readonly ackWaitMs?: number; readonly maxAckPending?: number; readonly bucketTtlMs?: number } = {}
) => {
  const name = uniqueName(prefix)
  const lower = name.toLowerCase()
  const topology: Topology = defineTopology({
    streams: [
      { name, subjects: [`${lower}.jobs.>`] },
      { name: `${name}_OUT`, subjects: [`${lower}.out.>`] }
    ],
    consumers: [{ stream: name, durable: "worker", filterSubjects: [`${lower}.jobs.>`], ackWaitMs: options.ackWaitMs ?? 2_000, maxAckPending: options.maxAckPending ?? 1_000 }],
    buckets: [{ name: `${name}_IDEM`, ttlMs: options.bucketTtlMs ?? 600_000 }]
  })
  await runtime.runPromise(ensureTopology(topology))
  return {
    name,
    topology,
    consumer: topology.consumers[0]!,
    jobSubject: `${lower}.jobs.placed`,
    outputSubject: `${lower}.out.done`,
    outputStream: `${name}_OUT`,
    bucket: `${name}_IDEM`,
    ledgerFile: ledgerFile()
  }
}
export type FaultSetup = Awaited<ReturnType<typeof faultSetup>>

const utf8 = new TextEncoder()
export const jobMessage = (subject: string, job: Job) => ({ subject, payload: utf8.encode(JSON.stringify(job)), msgId: job.id })

export const publishJobs = (runtime: TestRuntime, subject: string, jobs: ReadonlyArray<Job>, maxInFlight = 64) =>
  runtime.runPromise(
    Effect.flatMap(Publisher, (p) => p.publishAll(jobs.map((j) => jobMessage(subject, j)), { maxInFlight })).pipe(Effect.provide(JetStreamPublisherLive))
  )

/** How many times each id appears in a ledger file (one line per handler run). */
export const readLedger = (file: string): Map<string, number> => {
  const counts = new Map<string, number>()
  if (!existsSync(file)) return counts
  for (const line of readFileSync(file, "utf8").split("\n")) if (line !== "") counts.set(line, (counts.get(line) ?? 0) + 1)
  return counts
}

/** Every message id stored in a stream, in stream order (an ordered consumer over the whole stream). */
export const storedMessageIds = async (client: NatsClient, stream: string): Promise<Array<string>> => {
  const info = await client.jsm.streams.info(stream)
  const total = info.state.messages
  const ids: Array<string> = []
  if (total === 0) return ids
  const consumer = await client.js.consumers.get(stream)
  const messages = await consumer.consume()
  for await (const m of messages) {
    ids.push(m.headers?.get("Nats-Msg-Id") ?? `${m.seq}`)
    if (ids.length >= total) break
  }
  await messages.close().catch(() => undefined)
  return ids
}

/** Nothing waiting and nothing delivered-but-unacked on the durable. */
export const drained = async (client: NatsClient, stream: string, durable: string) => {
  const info = await client.jsm.consumers.info(stream, durable)
  return info.num_pending === 0 && info.num_ack_pending === 0
}

export const waitDrained = (client: NatsClient, stream: string, durable: string, timeoutMs = 30_000) =>
  eventually(() => drained(client, stream, durable), timeoutMs, `${stream}/${durable} to have nothing pending`)

export const jobs = (prefix: string, n: number, from = 0): Array<Job> => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${from + i}`, n: from + i }))

/**
 * The in-process worker of the fault tests (fixtures/worker.ts is the same as a process): counts
 * each job's runs in `runs`, goes through `before` (a pause, a fault), and answers with a "done"
 * output whose id derives from the job (the output stream stores it once). It runs on the setup's
 * durable with the KV idempotency store of its bucket (`store`) and no dead letters; `close` stops it.
 */
export const runJobWorker = async (
  conn: { readonly runtime: TestRuntime; readonly client: NatsClient },
  setup: FaultSetup,
  options: {
    readonly runs: Map<string, number>
    readonly before?: (job: Job) => Effect.Effect<void>
    readonly retry: Partial<RetryPolicy>
    readonly concurrency: number
    readonly shutdownGraceMs?: number
  }
) => {
  const handler = defineHandler({
    schema: Job,
    handle: (job, ctx) =>
      Effect.gen(function* () {
        options.runs.set(job.id, (options.runs.get(job.id) ?? 0) + 1)
        if (options.before !== undefined) yield* options.before(job)
        return [yield* ctx.message(Job, setup.outputSubject, job, "done")]
      }),
    errors: { EncodeError: "dead-letter" }
  })
  const store = await conn.runtime.runPromise(openKvIdempotencyStore(conn.client, setup.bucket))
  const running = await runScoped(conn.runtime, runJetStreamConsumer(handler, {
    consumer: setup.consumer,
    retry: makeRetryPolicy(options.retry),
    concurrency: options.concurrency,
    idempotency: store,
    deadLetters: false,
    ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {})
  }))
  return { store, close: running.close }
}

// ---- worker child processes ------------------------------------------------------------------

export interface WorkerProcess {
  readonly pid: number
  readonly lines: ReadonlyArray<string>
  readonly stderr: () => string
  /** Resolves with the first stdout line matching, or throws after the deadline with the worker's output. */
  readonly waitForLine: (match: (line: string) => boolean, timeoutMs?: number) => Promise<string>
  readonly signal: (signal: NodeJS.Signals) => void
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const children = new Set<ChildProcess>()

/** Starts `fixtures/worker.ts` as its own Node process and waits until its consumer runs. */
export const spawnWorker = async (config: WorkerConfig, options: { readonly waitReady?: boolean } = {}): Promise<WorkerProcess> => {
  const child = spawn(process.execPath, ["--conditions=@conveyor/source", "--import", "tsx", join(here, "fixtures", "worker.ts"), JSON.stringify(config)], {
    cwd: projectRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "" }
  })
  children.add(child)
  const lines: Array<string> = []
  let partial = ""
  let err = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n")
    partial = parts.pop() ?? ""
    lines.push(...parts)
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-8_000)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    })
  )
  const worker: WorkerProcess = {
    pid: child.pid!,
    lines,
    stderr: () => err,
    waitForLine: async (match, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = lines.find(match)
        if (found !== undefined) return found
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`worker ${child.pid} exited (${child.exitCode ?? child.signalCode}) before the line; stdout:\n${lines.join("\n")}\nstderr:\n${err}`)
        }
        if (Date.now() > deadline) throw new Error(`worker ${child.pid}: no matching line within ${timeoutMs} ms; stdout:\n${lines.slice(-50).join("\n")}\nstderr:\n${err}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal)
    },
    exited
  }
  // Generous: a Node process with tsx starts in seconds on a loaded 2-core box.
  if (options.waitReady ?? true) await worker.waitForLine((l) => l === "ready", 60_000)
  return worker
}

/** For afterAll: SIGKILL every worker this file started that still runs (each by its own pid), remove the ledgers. */
export const cleanupFaults = async () => {
  const pending = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once("exit", () => resolve())
        process.kill(child.pid!, "SIGKILL")
      })
  )
  await Promise.all(pending)
  for (const dir of ledgerDirs) rmSync(dir, { recursive: true, force: true })
  ledgerDirs.clear()
}
