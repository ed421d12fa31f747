import { startBullmqChain, STEPS } from "./bullmq-chain.js"
import { type Layout, startAppProcesses, startBullmqProcesses, startConveyorHalves, startRawProcesses } from "./chain-processes.js"
import type { RawClient } from "./harness.js"
import type { LocalRedis } from "./redis.js"
import { row, type Row } from "./report.js"
import { percentile, summarize } from "./stats.js"
import { RAW_HOPS } from "./raw-chain.js"
import { natsInMessages, pidCpuMs, selfCpuMs, subjectsTarget, type Target } from "./target.js"
import { conveyorStack, rawStack } from "./workflow.js"

export interface ChainSettings {
  /** Orders per measured run of each side. */
  readonly orders: number
  /** Orders in flight at once (each slot places its next order when the previous one finished). */
  readonly inFlight: number
  readonly runs: number
  /**
   * Also run each side as separate processes, compiled: Conveyor's apps as deployed (one per app, then 2 replicas of the
   * orchestrator, each worker and the notifier), the raw chain (ingress, then 1 and 2 processes per hop) and BullMQ's (ingress, then 1 and 2 per Worker).
   */
  readonly processes: boolean
}

export interface Loop {
  readonly ordersPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly cpuMsPerOrder: number
  readonly brokerCpuMsPerOrder: number
  readonly brokerOpsPerOrder: number
}

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
      // 64 SKUs of this loop's own, so every row starts from fresh SKU values (a SKU's value keeps
      // only the orders under way, so sharing them would change little).
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

/**
 * Orders each side (and each process row) runs before it is measured, so the figures are the
 * steady state a running service has. With 200, Conveyor's first measured run was still warming
 * up (3 Dec 18:23: 364 orders/s, then 485-581 in runs 2-5; BullMQ 999, then 1,078-1,158).
 */
const WARM_UP = 1000
/**
 * How a side runs as processes (chain-processes.ts): one process per part (the ingress or gateway
 * always one), then 2 per part, then the whole chain in two processes, one per core here.
 */
const SCALE_OUT = [1, 2, "halves"] as const

/**
 * The order workflow against a BullMQ chain doing the same steps, in one run: closed loop, the same
 * order count and `inFlight` orders at once, no injected failures. Conveyor with every app in this
 * process; BullMQ with its four Workers in this process; the raw nats.js 8-hop chain (no KV, no
 * decoding) as the floor of the messaging alone; then, optionally, each of the three as processes
 * (one per part, then 2 per part), to show which of them gains from more processes on this machine.
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
  const results: Record<Side, Loop[]> = { conveyor: [], bullmq: [], raw: [] }
  /** Each side as processes: loops by processes per part. */
  const scaled: Record<Side, Record<(typeof SCALE_OUT)[number], Loop[]>> = {
    conveyor: { 1: [], 2: [], halves: [] }, bullmq: { 1: [], 2: [], halves: [] }, raw: { 1: [], 2: [], halves: [] }
  }
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
    const asProcesses: Record<Side, (layout: Layout) => Promise<Target>> = {
      conveyor: async (layout) =>
        layout === "halves" ? startConveyorHalves(raw, url, monitorPort, natsPid) : (await startAppProcesses(raw, url, monitorPort, natsPid, layout)).target,
      bullmq: (replicas) => startBullmqProcesses(redis, s.inFlight, replicas),
      raw: (replicas) => startRawProcesses(raw, url, monitorPort, natsPid, replicas)
    }
    for (const side of sides) {
      for (const layout of SCALE_OUT) {
        log(`chain: ${side} as processes, ${layout === "halves" ? "in two halves" : `${layout} process(es) per part`}`)
        const target = await asProcesses[side](layout)
        try {
          // Each process warms up on as many deliveries as the one process did: JIT and heap sizing
          // are per process, and a replica sees 1/replicas of the orders.
          await closedLoop(raw, target, Math.min(WARM_UP, s.orders) * (layout === "halves" ? 1 : layout), s.inFlight)
          for (let run = 0; run < s.runs; run++) scaled[side][layout].push(await closedLoop(raw, target, s.orders, s.inFlight))
        } finally {
          await target.close()
        }
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
    /** `loops` as processes against `side` in one process: orders/s, with p50 and CPU per order in the note. */
    const scaleOutRow = (id: string, figure: string, side: Side, loops: ReadonlyArray<Loop>, target?: { text: string; met: (ratio: number) => boolean }) => {
      const cpu = summarize(loops.map((l) => l.cpuMsPerOrder)).median
      const cpuOne = of(side, (l) => l.cpuMsPerOrder).median
      const left = summarize(loops.map((l) => l.ordersPerSecond))
      const right = of(side, (l) => l.ordersPerSecond)
      return row({
        id, figure: `${figure} (left) vs ${side === "conveyor" ? "every app" : "the chain"} in one process (right), ${setup}`, unit: "orders/s", conveyor: left, raw: right,
        target: target === undefined ? undefined : { text: target.text, met: target.met(left.median / right.median) },
        note: `p50 ${summarize(loops.map((l) => l.p50)).median.toFixed(0)} ms (one process ${of(side, (l) => l.p50).median.toFixed(0)}), ${cpu.toFixed(1)} CPU ms per order over the processes and the driver, ${(cpu / cpuOne).toFixed(2)}× one process's ${cpuOne.toFixed(1)}`
      })
    }
    rows.push(
      scaleOutRow("chain-processes", "order workflow, one process per app, compiled JavaScript as deployed", "conveyor", scaled.conveyor[1]),
      scaleOutRow("chain-replicas", "order workflow, one gateway and 2 processes of the orchestrator, each worker and the notifier (11 processes), compiled as deployed", "conveyor", scaled.conveyor[2],
        { text: "> 1.0× one process", met: (ratio) => ratio > 1 }),
      scaleOutRow("chain-raw-processes", `raw nats.js 8-hop chain, the ingress and each hop in its own process (${1 + RAW_HOPS} processes, compiled)`, "raw", scaled.raw[1]),
      scaleOutRow("chain-raw-replicas", `raw nats.js 8-hop chain, the ingress and 2 processes per hop sharing its durable (${1 + 2 * RAW_HOPS} processes)`, "raw", scaled.raw[2]),
      scaleOutRow("chain-bullmq-processes", `BullMQ chain, the ingress and each step's Worker in its own process (${1 + STEPS.length} processes, compiled)`, "bullmq", scaled.bullmq[1]),
      scaleOutRow("chain-bullmq-replicas", `BullMQ chain, the ingress and 2 processes per step's Worker competing for its jobs (${1 + 2 * STEPS.length} processes)`, "bullmq", scaled.bullmq[2]),
      scaleOutRow("chain-halves", "order workflow over two processes (one per core here): the gateway and the orchestrator, then the three workers and the notifier", "conveyor", scaled.conveyor.halves),
      scaleOutRow("chain-raw-halves", `raw nats.js 8-hop chain over two processes: the ingress and hops 1-${RAW_HOPS / 2}, then the rest`, "raw", scaled.raw.halves),
      scaleOutRow("chain-bullmq-halves", `BullMQ chain over two processes: the ingress and the first ${Math.ceil(STEPS.length / 2)} steps' Workers, then the rest`, "bullmq", scaled.bullmq.halves)
    )
  }
  return rows
}
