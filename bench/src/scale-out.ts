// Where the CPU of the order apps as processes goes, per app (diagnostic for the chain section's process rows):
//   node bench/dist/scale-out.js [orders=1000] [replicas=1,2] [build|source]
// For each replica count: the apps as processes on their own nats-server, a warm-up, then `orders`
// orders, 64 in flight, closed loop (as the bench). Per app (its replicas summed): CPU ms per order,
// NATS messages its connections sent and received per order (`/connz`, by connection name), context
// switches and read/write system calls per order (`/proc`), what the processes printed, and
// deliveries per order by settlement (`/metrics`); the durables' redeliveries (`/jsz`).
import { LocalNatsProcess } from "@conveyor/testing"
import { readFileSync } from "node:fs"
import { closedLoop } from "./chain.js"
import { startAppProcesses } from "./chain-processes.js"
import { pidCpuMs } from "./target.js"
import { rawClient } from "./harness.js"

const [ordersText = "1000", replicasText = "1,2", from = "build", loopsText = "1", ...nodeArgs] = process.argv.slice(2)
const orders = Number(ordersText)
const IN_FLIGHT = 64

interface Conn { readonly name?: string; readonly in_msgs: number; readonly out_msgs: number }
const connz = async (monitorPort: number): Promise<ReadonlyArray<Conn>> =>
  ((await (await fetch(`http://127.0.0.1:${monitorPort}/connz?limit=4096`)).json()) as { connections?: Array<Conn> }).connections ?? []

/** `conveyor_messages_processed_total{consumer,outcome}` of one app process. */
const processed = async (base: string): Promise<Map<string, number>> => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split("\n")) {
    const m = /^conveyor_messages_processed_total\{([^}]*)\} (\S+)/.exec(line)
    if (m === null) continue
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    const key = `${labels["consumer"]}:${labels["outcome"]}`
    out.set(key, (out.get(key) ?? 0) + Number(m[2]))
  }
  return out
}

interface ConsumerState { readonly name: string; readonly num_redelivered: number; readonly delivered: { readonly consumer_seq: number } }
const consumers = async (monitorPort: number): Promise<ReadonlyArray<ConsumerState>> => {
  const jsz = (await (await fetch(`http://127.0.0.1:${monitorPort}/jsz?consumers=true`)).json()) as {
    account_details?: Array<{ stream_detail?: Array<{ consumer_detail?: Array<ConsumerState> }> }>
  }
  return (jsz.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).flatMap((s) => s.consumer_detail ?? []))
}

/** Voluntary and involuntary context switches of a process so far (Linux). */
const switches = (pid: number): number => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    return [...status.matchAll(/ctxt_switches:\s+(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
  } catch {
    return 0
  }
}
/** Read-like and write-like system calls of a process so far (`/proc/<pid>/io` syscr + syscw; Linux). */
const syscalls = (pid: number): number => {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8")
    return [...io.matchAll(/sysc[rw]:\s+(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
  } catch {
    return 0
  }
}
const IDLE_MS = 5_000

const server = await LocalNatsProcess.start()
const raw = await rawClient(server.url)
try {
  for (const replicas of replicasText.split(",").map(Number)) {
    const { started, target } = await startAppProcesses(raw, server.url, server.monitorPort, server.pid, replicas, from as "build" | "source", {}, nodeArgs.length > 0 ? nodeArgs : undefined)
    try {
      await closedLoop(raw, target, Math.min(200, orders), IN_FLIGHT)
      const appOf = (name: string | undefined) => (name ?? "").replace(/-\d+$/, "")
      const snapshot = async () => ({
        cpu: started.map((p) => pidCpuMs(p.pid)),
        switches: started.map((p) => switches(p.pid)),
        syscalls: started.map((p) => syscalls(p.pid)),
        conns: await connz(server.monitorPort),
        processed: await Promise.all(started.map((p) => processed(p.url))),
        consumers: await consumers(server.monitorPort),
        natsCpu: pidCpuMs(server.pid),
        at: performance.now()
      })
      const idle0 = await snapshot()
      await new Promise((r) => setTimeout(r, IDLE_MS))
      const idle1 = await snapshot()
      const idleCpu = idle1.cpu.reduce((a, b) => a + b, 0) - idle0.cpu.reduce((a, b) => a + b, 0)
      const idleMsgs = idle1.conns.reduce((a, c) => a + c.in_msgs + c.out_msgs, 0) - idle0.conns.reduce((a, c) => a + c.in_msgs + c.out_msgs, 0)
      console.log(`\n${replicas} replica(s), idle: ${((idleCpu / IDLE_MS) * 1000).toFixed(1)} CPU ms/s in all app processes, ${((idleMsgs / IDLE_MS) * 1000).toFixed(1)} NATS messages/s in+out`)
      for (let loop = 1; loop <= Number(loopsText); loop++) {
      const before = await snapshot()
      const loop = await closedLoop(raw, target, orders, IN_FLIGHT)
      await new Promise((r) => setTimeout(r, 500))
      const after = await snapshot()
      console.log(`${replicas} replica(s), ${from}: ${loop.ordersPerSecond.toFixed(1)} orders/s, p50 ${loop.p50.toFixed(0)} ms, ${loop.cpuMsPerOrder.toFixed(2)} CPU ms/order (apps + driver), nats-server ${((after.natsCpu - before.natsCpu) / orders).toFixed(2)} ms/order`)
      const perApp = new Map<string, { cpu: number; sent: number; received: number; processes: number; switches: number; syscalls: number; output: number }>()
      started.forEach((p, i) => {
        const a = perApp.get(p.name) ?? { cpu: 0, sent: 0, received: 0, processes: 0, switches: 0, syscalls: 0, output: 0 }
        a.cpu += after.cpu[i]! - before.cpu[i]!
        a.switches += after.switches[i]! - before.switches[i]!
        a.syscalls += after.syscalls[i]! - before.syscalls[i]!
        a.output += p.output().length
        a.processes++
        perApp.set(p.name, a)
      })
      for (const c of after.conns) {
        const was = before.conns.find((b) => b.name === c.name)
        const a = perApp.get(appOf(c.name))
        if (a === undefined) continue
        a.sent += c.in_msgs - (was?.in_msgs ?? 0)
        a.received += c.out_msgs - (was?.out_msgs ?? 0)
      }
      for (const [app, a] of perApp) {
        console.log(`  ${app.padEnd(17)} ×${a.processes}  CPU ${(a.cpu / orders).toFixed(2).padStart(6)} ms/order  NATS sent ${(a.sent / orders).toFixed(2).padStart(6)}  received ${(a.received / orders).toFixed(2).padStart(6)} per order, ${(a.switches / orders).toFixed(1).padStart(5)} context switches, ${(a.syscalls / orders).toFixed(1).padStart(5)} read/write syscalls per order; ${a.output} characters of output`)
      }
      const settled = new Map<string, number>()
      after.processed.forEach((m, i) => {
        for (const [k, v] of m) settled.set(k, (settled.get(k) ?? 0) + v - (before.processed[i]!.get(k) ?? 0))
      })
      console.log(`  deliveries per order: ${[...settled].filter(([, v]) => v > 0).map(([k, v]) => `${k} ${(v / orders).toFixed(3)}`).join(", ")}`)
      console.log(`  redelivered (consumer info, whole run): ${after.consumers.map((c) => `${c.name} ${c.num_redelivered}`).join(", ")}`)
      }
    } finally {
      await target.close()
    }
  }
} finally {
  await raw.nc.close()
  await server.stop()
}
process.exit(0)
