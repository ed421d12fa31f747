import { appNodeOptions, eventSubject } from "@conveyor/domain"
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import { killOnExit } from "@conveyor/testing"
import { QueueEvents } from "bullmq"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bullmqConnection, bullmqPrefix, orderOfJob, redisCommands, STEPS, stepQueue } from "./bullmq-chain.js"
import type { RawClient } from "./harness.js"
import { deleteRawChain, ensureRawChain, RAW_HOPS, rawFinishedSubject } from "./raw-chain.js"
import type { LocalRedis } from "./redis.js"
import { natsInMessages, pidCpuMs, processesCpuMs, subjectsTarget, type Target } from "./target.js"

// The chain section's scale-out: each side's parts as separate processes on loopback, compiled
// JavaScript (`from: "build"`, what `npm run bench` builds) or the sources through tsx (`source`,
// for tests), each with the deployed Node options (appNodeOptions), stopped by its own pid.

/** Where the driver sees an order finish. */
const finishedOrders = [eventSubject("OrderCompleted"), eventSubject("OrderCancelled")]

/** The order apps as processes: `apps[i]` is the app of `started[i]`, named `<app>-<replica>` on its NATS connection. */
export interface AppProcesses {
  readonly started: ReadonlyArray<AppProcess>
  readonly target: Target
}

/**
 * Every order app as its own process, `replicas` of the orchestrator and each worker and the
 * notifier (one gateway), as deployed: compiled JavaScript (`from: "build"`) unless `from` says
 * `source` (tsx, as `nx run <app>:serve`).
 */
export const startAppProcesses = async (
  raw: RawClient, url: string, monitorPort: number, natsPid: number | undefined, replicas: number, from: "build" | "source" = "build",
  extraEnv: Record<string, string> = {}, nodeArgs: ReadonlyArray<string> = appNodeOptions
): Promise<AppProcesses> => {
  const env = { NATS_URL: url, INVENTORY_DEFAULT_STOCK: "1000000000", OTEL_SDK_DISABLED: "true", ...extraEnv }
  const apps = ["gateway", ...["orchestrator", "inventory-worker", "payments-worker", "shipping-worker", "notifier"].flatMap((a) => Array<string>(replicas).fill(a))]
  const named = apps.map((app, i) => ({ app, env: { ...env, NATS_NAME: `${app}-${apps.slice(0, i).filter((a) => a === app).length + 1}` } }))
  const started: AppProcess[] = []
  try {
    // The first one ensures the topology; the rest start together.
    started.push(await startAppProcess(named[0]!.app, named[0]!.env, [], { from, nodeArgs }))
    await started[0]!.waitReady(120_000)
    started.push(...(await Promise.all(named.slice(1).map((a) => startAppProcess(a.app, a.env, [], { from, nodeArgs })))))
    await Promise.all(started.map((p) => p.waitReady(180_000)))
  } catch (e) {
    await Promise.all(started.map((p) => p.stop("SIGKILL")))
    throw e
  }
  const target = subjectsTarget(raw, { base: started[0]!.url, finishedSubjects: finishedOrders, close: async () => {
    await Promise.all(started.map((p) => p.stop("SIGTERM")))
  } }, {
    cpuMs: processesCpuMs(started.map((p) => p.pid)),
    brokerOps: natsInMessages(monitorPort),
    brokerCpuMs: () => pidCpuMs(natsPid)
  })
  return { started, target }
}

/**
 * The order apps over two processes, as many as this machine has cores: the gateway and the
 * orchestrator in one, the three workers and the notifier in the other (each half about half the
 * CPU per order), built as `chain-process.js conveyor <app>...` (every app's layer, as apps/demo).
 */
export const startConveyorHalves = async (
  raw: RawClient, url: string, monitorPort: number, natsPid: number | undefined, from: "build" | "source" = "build"
): Promise<Target> => {
  const env = { NATS_URL: url }
  // The first ensures the topology; then the other starts.
  const first = await startChainProcess(["conveyor", "gateway", "orchestrator"], env, from)
  const second = await startChainProcess(["conveyor", "inventory-worker", "payments-worker", "shipping-worker", "notifier"], env, from).catch(async (e: unknown) => {
    await first.stop()
    throw e
  })
  const started = [first, second]
  return subjectsTarget(raw, {
    base: first.base,
    finishedSubjects: finishedOrders,
    close: async () => {
      await Promise.all(started.map((p) => p.stop()))
    }
  }, { cpuMs: processesCpuMs(started.map((p) => p.pid)), brokerOps: natsInMessages(monitorPort), brokerCpuMs: () => pidCpuMs(natsPid) })
}

/** One part of the raw or the BullMQ chain as its own process (chain-process.ts). */
export interface ChainProcess {
  readonly pid: number
  /** Its `POST /orders` endpoint (an ingress), or `-`. */
  readonly base: string
  readonly stop: () => Promise<void>
}

const benchRoot = join(dirname(fileURLToPath(import.meta.url)), "..")

export const startChainProcess = async (args: ReadonlyArray<string>, env: Record<string, string>, from: "build" | "source"): Promise<ChainProcess> => {
  if (from === "build" && !existsSync(join(benchRoot, "dist", "chain-process.js"))) throw new Error("bench is not built: run npx nx run bench:build")
  const entry = from === "build" ? ["--enable-source-maps", "dist/chain-process.js"] : ["--conditions=@conveyor/source", "--import", "tsx", "src/chain-process.ts"]
  const child = spawn(process.execPath, [...appNodeOptions, ...entry, ...args], { cwd: benchRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  killOnExit(child)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  let output = ""
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chain-process ${args.join(" ")} not ready in 180 s:\n${output}`)), 180_000)
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000)
      const ready = /^ready (\S+)$/m.exec(output)
      if (ready !== null) {
        clearTimeout(timer)
        resolve(ready[1]!)
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`chain-process ${args.join(" ")} exited with ${child.exitCode ?? child.signalCode}:\n${output}`))
    })
  }).catch(async (e: unknown) => {
    child.kill("SIGKILL")
    await exited
    throw e
  })
  return {
    pid: child.pid!,
    base,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM")
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000)
      await exited
      clearTimeout(killer)
    }
  }
}

/** Starts every part at once; if one fails, stops the others and fails. */
const startParts = async (parts: ReadonlyArray<ReadonlyArray<string>>, env: Record<string, string>, from: "build" | "source") => {
  const started = await Promise.allSettled(parts.map((args) => startChainProcess(args, env, from)))
  const ok = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
  const failed = started.find((s) => s.status === "rejected")
  if (failed !== undefined) {
    await Promise.all(ok.map((p) => p.stop()))
    throw failed.reason
  }
  return ok
}

/**
 * How a chain's parts are laid out over processes: `replicas` processes per part (each hop, step or
 * app in its own, 1 or 2 per part), or `"halves"`: two processes, the first half of the chain (with
 * its ingress) in one and the rest in the other, as many as this machine has cores.
 */
export type Layout = number | "halves"

/** The processes (chain-process.js arguments) of `side`'s ingress and `count` hops or steps, laid out as `layout` says. */
const partsOf = (side: "raw" | "bullmq", count: number, layout: Layout): ReadonlyArray<ReadonlyArray<string>> => {
  const indexes = Array.from({ length: count }, (_, i) => String(i))
  if (layout === "halves") {
    const half = Math.ceil(count / 2)
    return [[side, "ingress", ...indexes.slice(0, half)], [side, ...indexes.slice(half)]]
  }
  return [[side, "ingress"], ...indexes.flatMap((i) => Array.from({ length: layout }, () => [side, i]))]
}

/** The raw nats.js chain as processes: one ingress, `replicas` processes per hop sharing its durable (or the chain in two halves). */
export const startRawProcesses = async (
  raw: RawClient, url: string, monitorPort: number, natsPid: number | undefined, replicas: Layout, from: "build" | "source" = "build"
): Promise<Target> => {
  await ensureRawChain(raw.jsm)
  const started = await startParts(partsOf("raw", RAW_HOPS, replicas), { NATS_URL: url }, from).catch(async (e: unknown) => {
    await deleteRawChain(raw.jsm)
    throw e
  })
  return subjectsTarget(raw, {
    base: started[0]!.base,
    finishedSubjects: [rawFinishedSubject],
    close: async () => {
      await Promise.all(started.map((p) => p.stop()))
      await deleteRawChain(raw.jsm)
    }
  }, { cpuMs: processesCpuMs(started.map((p) => p.pid)), brokerOps: natsInMessages(monitorPort), brokerCpuMs: () => pidCpuMs(natsPid) })
}

/**
 * The BullMQ chain as processes: one ingress, `replicas` processes per step's Worker (each with
 * `concurrency`). The driver sees an order finish through the last queue's QueueEvents (its
 * `completed` events, read from the queue's event stream).
 */
export const startBullmqProcesses = async (redis: LocalRedis, concurrency: number, replicas: Layout, from: "build" | "source" = "build"): Promise<Target> => {
  const prefix = bullmqPrefix()
  const env = { REDIS_PORT: String(redis.port), BULLMQ_PREFIX: prefix, BULLMQ_CONCURRENCY: String(concurrency) }
  const connection = bullmqConnection(redis.port)
  // From the stream's start (the prefix is new): no completion is missed before the first read.
  const events = new QueueEvents(stepQueue(prefix, STEPS.length - 1), { connection, lastEventId: "0-0" })
  const store = new Redis(connection)
  const started = await events.waitUntilReady()
    .then(() => startParts(partsOf("bullmq", STEPS.length, replicas), env, from))
    .catch(async (e: unknown) => {
      await events.close()
      store.disconnect()
      throw e
    })
  return {
    base: started[0]!.base,
    onFinished: (listener) => {
      const completed = ({ jobId }: { jobId: string }) => listener(orderOfJob(jobId))
      events.on("completed", completed)
      return () => events.off("completed", completed)
    },
    cpuMs: processesCpuMs(started.map((p) => p.pid)),
    brokerOps: redisCommands(store),
    brokerCpuMs: () => pidCpuMs(redis.pid),
    close: async () => {
      await Promise.all(started.map((p) => p.stop()))
      await events.close()
      store.disconnect()
    }
  }
}
