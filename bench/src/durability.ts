import { LocalNatsCluster, LocalNatsProcess } from "@conveyor/testing"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { conveyorRuntime, rawClient } from "./harness.js"
import { benchPublish } from "./publish.js"
import { row, type Row } from "./report.js"
import type { Summary } from "./stats.js"
import { benchWorkflow, type WorkflowSettings } from "./workflow.js"

export interface DurabilitySettings {
  readonly publishMessages: number
  readonly window: number
  readonly runs: number
  readonly workflow: Omit<WorkflowSettings, "runs" | "replicas">
}

/** A broker set up one way: its URL (comma-separated nodes for the cluster) and how to stop it. */
interface Broker {
  readonly url: string
  readonly stop: () => Promise<void>
}

/** JetStream fsyncs every write before it acks it (the server's default flushes every 2 minutes). */
const FSYNC_CONFIG = "jetstream {\n  sync_interval: always\n}\n"

/** A config file with `sync_interval: always`, in a directory of its own; `remove` deletes it. */
const fsyncConfig = () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-bench-fsync-"))
  const path = join(dir, "fsync.conf")
  writeFileSync(path, FSYNC_CONFIG)
  return { args: ["-c", path], remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Starts `start` with the fsync config; fails unless the server reports it fsyncs every write. */
const withFsync = async (start: (args: ReadonlyArray<string>) => Promise<Broker & { readonly monitorPort: number }>): Promise<Broker> => {
  const config = fsyncConfig()
  const broker = await start(config.args).catch((e: unknown) => {
    config.remove()
    throw e
  })
  const stop = async () => {
    await broker.stop()
    config.remove()
  }
  // The bench would otherwise report an unsynced server's figures as the fsync row's.
  const jsz = (await (await fetch(`http://127.0.0.1:${broker.monitorPort}/jsz?config=true`)).json()) as { config?: { sync_always?: boolean } }
  if (jsz.config?.sync_always !== true) {
    await stop()
    throw new Error("nats-server did not take sync_interval: always (needs 2.10 or later)")
  }
  return { url: broker.url, stop }
}

const node = async (args: ReadonlyArray<string> = []) => {
  const s = await LocalNatsProcess.start({ args })
  return { url: s.url, monitorPort: s.monitorPort, stop: () => s.stop() }
}

const cluster = async (args: ReadonlyArray<string> = []) => {
  const c = await LocalNatsCluster.start({ args })
  return { url: c.url, monitorPort: c.nodes[0]!.monitorPort, stop: () => c.stop() }
}

const SETUPS = {
  one: { label: "one node", replicas: 1, start: () => node() },
  fsync: { label: "one node with sync_interval: always", replicas: 1, start: () => withFsync(node) },
  r3: { label: "three-node cluster, replicas 3", replicas: 3, start: () => cluster() },
  r3fsync: { label: "three-node cluster, replicas 3, sync_interval: always (the production overlay)", replicas: 3, start: () => withFsync(cluster) }
} as const
type Setup = keyof typeof SETUPS

interface Figures {
  readonly publish: Summary
  readonly p50: Summary
  readonly p99: Summary
  readonly maxRate: Summary
  readonly rawP50: Summary
}

const pick = (rows: ReadonlyArray<Row>, id: string): Row => {
  const found = rows.find((r) => r.id === id)
  if (found === undefined) throw new Error(`durability: no ${id} row`)
  return found
}

/** The publish and workflow sections' own measurements, on a broker of its own set up as `setup`. */
const measure = async (setup: Setup, s: DurabilitySettings): Promise<Figures> => {
  const { replicas, start } = SETUPS[setup]
  const broker = await start()
  const conveyor = conveyorRuntime(broker.url)
  const raw = await rawClient(broker.url)
  try {
    const publish = await benchPublish(conveyor, raw, raw, { messages: s.publishMessages, window: s.window, runs: s.runs, sizes: [256], only: ["conveyor"], replicas })
    const workflow = await benchWorkflow(broker.url, raw, { ...s.workflow, runs: s.runs, replicas })
    return {
      publish: pick(publish, "publish-256").conveyor,
      p50: pick(workflow, "workflow-p50").conveyor,
      p99: pick(workflow, "workflow-p99").conveyor,
      maxRate: pick(workflow, "workflow-max-rate").conveyor,
      rawP50: pick(workflow, "workflow-p50").raw
    }
  } finally {
    await conveyor.dispose().catch(() => undefined)
    await raw.nc.close().catch(() => undefined)
    await broker.stop()
  }
}

/**
 * What fsync on every write, replicas 3 and both together cost: Conveyor's publish (256 B, PubAcks) and order
 * workflow figures, each setup on a fresh broker one after the other, against one default node.
 * Left column: the setup; right column: one node.
 */
export const benchDurability = async (s: DurabilitySettings, log: (line: string) => void): Promise<Row[]> => {
  const figures = {} as Record<Setup, Figures>
  for (const setup of Object.keys(SETUPS) as Setup[]) {
    log(`durability: ${SETUPS[setup].label}`)
    figures[setup] = await measure(setup, s)
  }
  const one = figures.one
  return (["fsync", "r3", "r3fsync"] as const).flatMap((setup) => {
    const f = figures[setup]
    const vs = `left: ${SETUPS[setup].label}, right: one node`
    return [
      row({ id: `durability-${setup}-publish`, figure: `publish with PubAcks, 256 B, window ${s.window} (${vs})`, unit: "msg/s", conveyor: f.publish, raw: one.publish }),
      row({ id: `durability-${setup}-p50`, figure: `order workflow latency p50 at ${s.workflow.rate} orders/s (${vs})`, unit: "ms", conveyor: f.p50, raw: one.p50,
        note: `the raw 8-hop chain: ${f.rawP50.median.toFixed(1)} ms against ${one.rawP50.median.toFixed(1)} ms` }),
      row({ id: `durability-${setup}-p99`, figure: `order workflow latency p99 at ${s.workflow.rate} orders/s (${vs})`, unit: "ms", conveyor: f.p99, raw: one.p99 }),
      row({ id: `durability-${setup}-max-rate`, figure: `highest order rate held (steps ×2 from ${s.workflow.rate}, capped at ${s.workflow.maxRate}) (${vs})`, unit: "orders/s", conveyor: f.maxRate, raw: one.maxRate })
    ]
  })
}
