import { LocalNatsProcess } from "@conveyor/testing"
import { benchChain } from "./chain.js"
import { benchConsume } from "./consume.js"
import { benchDurability } from "./durability.js"
import { conveyorRuntime, rawClient } from "./harness.js"
import { benchPublish } from "./publish.js"
import { startRedis } from "./redis.js"
import type { Report, Row } from "./report.js"
import { benchRss } from "./rss.js"
import { startOtlpSink } from "./sink.js"
import { benchWorkflow } from "./workflow.js"

export const SECTIONS = ["publish", "consume", "workflow", "chain", "rss", "durability"] as const
export type Section = (typeof SECTIONS)[number]

export interface BenchSettings {
  readonly quick: boolean
  readonly runs: number
  readonly sections: ReadonlyArray<Section>
  readonly publishMessages: number
  readonly consumeMessages: number
  readonly concurrency: number
  readonly window: number
  readonly backlog: number
  readonly workflowRate: number
  readonly workflowSeconds: number
  readonly stepSeconds: number
  readonly maxRate: number
  /** Orders per run of the chain section (Conveyor against BullMQ), and how many in flight. */
  readonly chainOrders: number
  readonly chainInFlight: number
  /** The chain section also runs the apps as separate processes (slow to start: off in --quick). */
  readonly chainProcesses: boolean
}

export const defaultSettings = (quick: boolean): BenchSettings =>
  quick
    ? {
        quick,
        runs: 1,
        sections: SECTIONS,
        publishMessages: 2_000,
        consumeMessages: 2_000,
        concurrency: 64,
        window: 256,
        backlog: 5_000,
        workflowRate: 10,
        workflowSeconds: 2,
        stepSeconds: 2,
        maxRate: 20,
        chainOrders: 100,
        chainInFlight: 16,
        chainProcesses: false
      }
    : {
        quick,
        runs: 3,
        sections: SECTIONS,
        // As in the reference figures; shorter runs (under a second for the raw consumer)
        // spread more between runs than the difference they measure.
        publishMessages: 100_000,
        consumeMessages: 100_000,
        concurrency: 64,
        window: 256,
        backlog: 1_000_000,
        workflowRate: 20,
        workflowSeconds: 10,
        stepSeconds: 5,
        maxRate: 1280,
        chainOrders: 3_000,
        chainInFlight: 64,
        chainProcesses: true
      }

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)

/** Starts a nats-server (file storage, its own store), runs the chosen sections, stops everything. */
export const runBench = async (s: BenchSettings, command: string): Promise<Report> => {
  const server = await LocalNatsProcess.start()
  log(`nats-server on ${server.url}, store ${server.storeDir}`)
  const rows: Row[] = []
  const conveyor = conveyorRuntime(server.url)
  const rawDefault = await rawClient(server.url)
  const rawFast = await rawClient(server.url, { noAsyncTraces: true })
  const sink = await startOtlpSink()
  try {
    if (s.sections.includes("publish")) {
      log("publish throughput")
      rows.push(...(await benchPublish(conveyor, rawDefault, rawFast, { messages: s.publishMessages, window: s.window, runs: s.runs, sizes: [256, 4096] })))
    }
    if (s.sections.includes("consume")) {
      log("consume-and-ack throughput")
      rows.push(...(await benchConsume(conveyor, rawDefault, sink, { messages: s.consumeMessages, runs: s.runs, concurrency: s.concurrency, payloadBytes: 256 })))
    }
    if (s.sections.includes("workflow")) {
      log("order workflow latency and highest held rate")
      rows.push(...(await benchWorkflow(server.url, rawDefault, { rate: s.workflowRate, seconds: s.workflowSeconds, stepSeconds: s.stepSeconds, maxRate: s.maxRate, runs: s.runs })))
    }
    if (s.sections.includes("chain")) {
      log("order workflow against a BullMQ chain, closed loop")
      const redis = await startRedis()
      try {
        rows.push(...(await benchChain(server.url, server.monitorPort, server.pid, rawDefault, redis,
          { orders: s.chainOrders, inFlight: s.chainInFlight, runs: s.runs, processes: s.chainProcesses }, log)))
      } finally {
        await redis.stop()
      }
    }
    if (s.sections.includes("rss")) {
      log(`peak RSS while a ${s.backlog}-message backlog drains`)
      rows.push(...(await benchRss(server.url, rawDefault, { backlog: s.backlog, runs: s.runs, concurrency: s.concurrency }, log)))
    }
    if (s.sections.includes("durability")) {
      log("durability: publish and workflow on one node, with fsync on every write, and on a three-node cluster at replicas 3 without and with it")
      rows.push(...(await benchDurability({
        publishMessages: s.publishMessages, window: s.window, runs: s.runs,
        workflow: { rate: s.workflowRate, seconds: s.workflowSeconds, stepSeconds: s.stepSeconds, maxRate: s.maxRate }
      }, log)))
    }
  } finally {
    await sink.stop()
    await conveyor.dispose().catch(() => undefined)
    await rawDefault.nc.close().catch(() => undefined)
    await rawFast.nc.close().catch(() => undefined)
    await server.stop()
  }
  const { sections, ...numbers } = s
  return { command, startedAt: new Date().toISOString(), settings: { ...numbers, sections: sections.join(",") }, rows }
}
