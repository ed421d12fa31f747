import { appNodeOptions } from "@conveyor/domain"
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import { readFileSync } from "node:fs"
import { startBullmqChain } from "./bullmq-chain.js"
import type { RawClient } from "./harness.js"
import type { LocalRedis } from "./redis.js"
import { row, type Row } from "./report.js"
import { percentile, summarize } from "./stats.js"
import { conveyorStack, rawStack, type Stack } from "./workflow.js"

export interface ChainSettings {
  /** Orders per measured run of each side. */
  readonly orders: number
  /** Orders in flight at once (each slot places its next order when the previous one finished). */
  readonly inFlight: number
  readonly runs: number
  /** Also run Conveyor's apps as separate processes, compiled as deployed (one per app, then 2 replicas of the orchestrator, each worker and the notifier). */
  readonly processes: boolean
}

/** One way of running the order chain, as the closed-loop driver sees it. */
export interface Target {
  readonly base: string
  readonly onFinished: (listener: (orderId: string) => void) => () => void
  /** CPU time of the process(es) running the apps, the driver's own process included (it shares it in the one-process rows). */
  readonly cpuMs: () => number
  /** Messages the apps sent to the broker (NATS) or commands it processed (Redis), so far. */
  readonly brokerOps: () => Promise<number>
  readonly brokerCpuMs: () => number
  readonly close: () => Promise<void>
}

export interface Loop {
  readonly ordersPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly cpuMsPerOrder: number
  readonly brokerCpuMsPerOrder: number
  readonly brokerOpsPerOrder: number
}

const TICKS_PER_SECOND = 100
/** utime + stime of a process from /proc, in ms (Linux; 0 elsewhere). */
export const pidCpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
  } catch {
    return 0
  }
}
export const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Messages NATS received from its client connections (publishes, KV requests, acks, pulls), from the monitoring endpoint. */
export const natsInMessages = (monitorPort: number) => async (): Promise<number> => {
  const connz = (await (await fetch(`http://127.0.0.1:${monitorPort}/connz?limit=4096`)).json()) as { connections?: Array<{ in_msgs: number }> }
  return (connz.connections ?? []).reduce((sum, c) => sum + c.in_msgs, 0)
}

export const subjectsTarget = (raw: RawClient, stack: Stack, extra: Pick<Target, "cpuMs" | "brokerOps" | "brokerCpuMs">): Target => ({
  base: stack.base,
  onFinished: (listener) => {
    const decoder = new TextDecoder()
    const subs = stack.finishedSubjects.map((subject) =>
      raw.nc.subscribe(subject, {
        callback: (_err, m) => {
          const id = (JSON.parse(decoder.decode(m.data)) as { orderId?: string }).orderId
          if (id !== undefined) listener(id)
        }
      })
    )
    return () => subs.forEach((s) => s.unsubscribe())
  },
  ...extra,
  close: stack.close
})

let prefixes = 0
const MAX_POSTS = 5

/** `orders` orders through `target`, `inFlight` at once; each slot waits for its order's finish before placing the next. */
export const closedLoop = async (raw: RawClient, target: Target, orders: number, inFlight: number): Promise<Loop> => {
  const prefix = `c${Date.now().toString(36)}${++prefixes}`
  const waiting = new Map<string, () => void>()
  const stop = target.onFinished((id) => waiting.get(id)?.())
  await raw.nc.flush()
  const latencies: number[] = []
  const cpu0 = target.cpuMs()
  const brokerCpu0 = target.brokerCpuMs()
  const ops0 = await target.brokerOps()
  const t0 = performance.now()
  let next = 0
  const slot = async () => {
    while (next < orders) {
      const i = next++
      const orderId = `${prefix}-${i}`
      let timer: NodeJS.Timeout | undefined
      const finished = new Promise<void>((resolve, reject) => {
        waiting.set(orderId, resolve)
        timer = setTimeout(() => reject(new Error(`order ${orderId} did not finish in 60 s`)), 60_000)
      })
      // Handled here even while the POST is still waiting: a timeout must fail the run, not crash it.
      finished.catch(() => undefined)
      const start = performance.now()
      // 64 SKUs of this loop's own: a SKU's value keeps every order that held it, so SKUs shared
      // with the loops before would make each later row write larger values.
      const body = JSON.stringify({ orderId, customerId: "bench", items: [{ sku: `${prefix}-sku-${i % 64}`, quantity: 1, unitPriceCents: 100 }] })
      // A 503 (the broker did not answer the gateway in time: 11 processes on 2 loaded cores) is
      // retried as the API asks, with the same order id and body (the gateway answers a repeat from
      // its record of the first) after its Retry-After.
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(`${target.base}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body })
        await response.arrayBuffer()
        if (response.status === 202) break
        if (response.status !== 503 || attempt >= MAX_POSTS) throw new Error(`POST /orders answered ${response.status} (attempt ${attempt})`)
        await new Promise((r) => setTimeout(r, 1000 * Number(response.headers.get("retry-after") ?? "1")))
      }
      await finished.finally(() => {
        clearTimeout(timer)
        waiting.delete(orderId)
      })
      latencies.push(performance.now() - start)
    }
  }
  try {
    await Promise.all(Array.from({ length: inFlight }, slot))
  } finally {
    stop()
  }
  const seconds = (performance.now() - t0) / 1000
  const ops = (await target.brokerOps()) - ops0
  return {
    ordersPerSecond: orders / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMsPerOrder: (target.cpuMs() - cpu0) / orders,
    brokerCpuMsPerOrder: (target.brokerCpuMs() - brokerCpu0) / orders,
    brokerOpsPerOrder: ops / orders
  }
}

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
  const target = subjectsTarget(raw, { base: started[0]!.url, finishedSubjects: ["orders.events.order-completed", "orders.events.order-cancelled"], close: async () => {
    await Promise.all(started.map((p) => p.stop("SIGTERM")))
  } }, {
    cpuMs: () => selfCpuMs() + started.reduce((sum, p) => sum + pidCpuMs(p.pid), 0),
    brokerOps: natsInMessages(monitorPort),
    brokerCpuMs: () => pidCpuMs(natsPid)
  })
  return { started, target }
}

const WARM_UP = 200

/**
 * The order workflow against a BullMQ chain doing the same steps, in one run: closed loop, the same
 * order count and `inFlight` orders at once, no injected failures. Conveyor with every app in this
 * process; BullMQ with its four Workers in this process; the raw nats.js 8-hop chain (no KV, no
 * decoding) as the floor of the messaging alone; then, optionally, Conveyor's apps as processes.
 */
export const benchChain = async (
  url: string, monitorPort: number, natsPid: number | undefined, raw: RawClient, redis: LocalRedis, s: ChainSettings, log: (line: string) => void
): Promise<Row[]> => {
  const natsOps = natsInMessages(monitorPort)
  const natsCpu = () => pidCpuMs(natsPid)
  const targets = {
    conveyor: subjectsTarget(raw, await conveyorStack(url), { cpuMs: selfCpuMs, brokerOps: natsOps, brokerCpuMs: natsCpu }),
    bullmq: await (async (): Promise<Target> => {
      const chain = await startBullmqChain(redis.port, s.inFlight)
      return { ...chain, cpuMs: selfCpuMs, brokerOps: chain.commands, brokerCpuMs: () => pidCpuMs(redis.pid) }
    })(),
    raw: subjectsTarget(raw, await rawStack(raw), { cpuMs: selfCpuMs, brokerOps: natsOps, brokerCpuMs: natsCpu })
  }
  type Side = keyof typeof targets
  const results: Record<Side | "processes" | "replicas", Loop[]> = { conveyor: [], bullmq: [], raw: [], processes: [], replicas: [] }
  const sides: ReadonlyArray<Side> = ["conveyor", "bullmq", "raw"]
  try {
    for (const side of sides) await closedLoop(raw, targets[side], Math.min(WARM_UP, s.orders), s.inFlight)
    for (let run = 0; run < s.runs; run++) {
      for (const side of run % 2 === 0 ? sides : [...sides].reverse()) {
        log(`chain run ${run + 1}/${s.runs}: ${side}`)
        results[side].push(await closedLoop(raw, targets[side], s.orders, s.inFlight))
      }
    }
  } finally {
    for (const side of sides) await targets[side].close().catch(() => undefined)
  }
  if (s.processes) {
    for (const [key, replicas] of [["processes", 1], ["replicas", 2]] as const) {
      log(`chain: apps as processes, ${replicas} replica(s) of the orchestrator, each worker and the notifier`)
      const { target } = await startAppProcesses(raw, url, monitorPort, natsPid, replicas)
      try {
        // Each process warms up on as many deliveries as the one process did: JIT and heap sizing
        // are per process, and a replica sees 1/replicas of the orders.
        await closedLoop(raw, target, Math.min(WARM_UP, s.orders) * replicas, s.inFlight)
        for (let run = 0; run < s.runs; run++) results[key].push(await closedLoop(raw, target, s.orders, s.inFlight))
      } finally {
        await target.close()
      }
    }
  }
  const of = (side: keyof typeof results, f: (l: Loop) => number) => summarize(results[side].map(f))
  const brokerNote = (side: keyof typeof results) => `broker CPU ${of(side, (l) => l.brokerCpuMsPerOrder).median.toFixed(2)} ms/order`
  const setup = `${s.orders} orders, ${s.inFlight} in flight, no injected failures`
  const tput = of("conveyor", (l) => l.ordersPerSecond)
  const bull = of("bullmq", (l) => l.ordersPerSecond)
  const rows: Row[] = [
    row({
      id: "chain-throughput",
      figure: `order workflow, every app in one process (right: a BullMQ chain reserve → capture → ship → notify in one process, Redis AOF everysec), ${setup}`,
      unit: "orders/s", conveyor: tput, raw: bull,
      target: { text: "≥ 0.5× the BullMQ chain (stretch ≥ 1.0×)", met: tput.median >= 0.5 * bull.median }
    }),
    (() => {
      const c = of("conveyor", (l) => l.p50)
      const b = of("bullmq", (l) => l.p50)
      return row({ id: "chain-p50", figure: `end-to-end latency p50 (POST /orders to the last step), ${setup} (right: BullMQ)`, unit: "ms", conveyor: c, raw: b, target: { text: "≤ 2× the BullMQ chain's", met: c.median <= 2 * b.median } })
    })(),
    row({ id: "chain-p99", figure: `end-to-end latency p99, ${setup} (right: BullMQ)`, unit: "ms", conveyor: of("conveyor", (l) => l.p99), raw: of("bullmq", (l) => l.p99) }),
    row({
      id: "chain-cpu", figure: `CPU per order of the process running the apps and the driver (right: BullMQ)`, unit: "ms",
      conveyor: of("conveyor", (l) => l.cpuMsPerOrder), raw: of("bullmq", (l) => l.cpuMsPerOrder),
      note: `Conveyor ${brokerNote("conveyor")} in nats-server; BullMQ ${brokerNote("bullmq")} in redis-server`
    }),
    row({
      id: "chain-broker-ops", figure: "broker operations per order: messages the apps sent to NATS (publishes, KV writes and reads, confirmed acks, pulls; each but a pull awaits a reply) vs commands Redis processed (a BullMQ script counts as one)",
      unit: "ops", conveyor: of("conveyor", (l) => l.brokerOpsPerOrder), raw: of("bullmq", (l) => l.brokerOpsPerOrder)
    }),
    (() => {
      const r = of("raw", (l) => l.ordersPerSecond)
      return row({
        id: "chain-raw-floor", figure: `left: the raw nats.js client doing the workflow's messaging alone (8 hops, each publish awaited before the ack; no KV, no decoding), right: BullMQ, ${setup}`,
        unit: "orders/s", conveyor: r, raw: bull, note: `Conveyor reaches ${(tput.median / r.median).toFixed(2)}× this floor; raw p50 ${of("raw", (l) => l.p50).median.toFixed(1)} ms, ${of("raw", (l) => l.brokerOpsPerOrder).median.toFixed(1)} NATS messages per order`
      })
    })()
  ]
  if (s.processes) {
    const one = of("processes", (l) => l.ordersPerSecond)
    const two = of("replicas", (l) => l.ordersPerSecond)
    rows.push(
      row({ id: "chain-processes", figure: `order workflow, one process per app, compiled JavaScript as deployed (left) vs every app in one process (right), ${setup}`, unit: "orders/s", conveyor: one, raw: tput,
        note: `p50 ${of("processes", (l) => l.p50).median.toFixed(0)} ms, ${of("processes", (l) => l.cpuMsPerOrder).median.toFixed(1)} CPU ms per order` }),
      row({
        id: "chain-replicas", figure: `order workflow, one gateway and 2 processes of the orchestrator, each worker and the notifier, compiled as deployed (left) vs every app in one process (right), ${setup}`,
        unit: "orders/s", conveyor: two, raw: tput, target: { text: "> 1.0× one process", met: two.median > tput.median },
        note: `p50 ${of("replicas", (l) => l.p50).median.toFixed(0)} ms, ${of("replicas", (l) => l.cpuMsPerOrder).median.toFixed(1)} CPU ms per order`
      })
    )
  }
  return rows
}
