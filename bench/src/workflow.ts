import { eventSubject } from "@conveyor/domain"
import { GatewayRoutesLive, InventoryWorkerLive, NotifierLive, OrchestratorLive, orderApp, PaymentsWorkerLive, ShippingWorkerLive } from "@conveyor/orders"
import * as HttpServer from "@effect/platform/HttpServer"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import type { RawClient } from "./harness.js"
import { deleteRawChain, ensureRawChain, RAW_HOPS, rawFinishedSubject, runRawHop, serveRawIngress } from "./raw-chain.js"
import { row, type Row } from "./report.js"
import { percentile, summarize } from "./stats.js"

export interface WorkflowSettings {
  /** Orders per second of the latency figure. */
  readonly rate: number
  readonly seconds: number
  /** Length of each step of the highest-rate search. */
  readonly stepSeconds: number
  readonly maxRate: number
  readonly runs: number
  /** Replicas of every stream and bucket, both sides (on a cluster); 1 by default. */
  readonly replicas?: number
}

/** Something that takes orders over HTTP and announces each finished one on a subject. */
export interface Stack {
  readonly base: string
  readonly finishedSubjects: ReadonlyArray<string>
  readonly close: () => Promise<void>
}

/** The order apps a bench process can run, each by the layer that runs it (the gateway: its routes). */
const conveyorApps = {
  gateway: undefined,
  orchestrator: OrchestratorLive,
  "inventory-worker": InventoryWorkerLive,
  "payments-worker": PaymentsWorkerLive,
  "shipping-worker": ShippingWorkerLive,
  notifier: NotifierLive
} as const
export type ConveyorApp = keyof typeof conveyorApps
export const isConveyorApp = (name: string): name is ConveyorApp => Object.hasOwn(conveyorApps, name)
const everyApp = Object.keys(conveyorApps) as ReadonlyArray<ConveyorApp>

/**
 * The order apps of libs/orders in this process (by default every one: gateway, orchestrator, three
 * workers, notifier), as apps/demo composes them. `base` is the gateway's when it runs here.
 */
export const conveyorStack = async (url: string, replicas = 1, apps: ReadonlyArray<ConveyorApp> = everyApp): Promise<Stack> => {
  const env = {
    NATS_URL: url,
    CONVEYOR_TOPOLOGY_REPLICAS: String(replicas),
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    OTEL_SDK_DISABLED: "true",
    INVENTORY_DEFAULT_STOCK: "1000000000"
  }
  const provider = ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" })
  const services = apps.reduce<Layer.Layer<never, unknown, unknown>>((all, app) => {
    const layer = conveyorApps[app]
    return layer === undefined ? all : Layer.merge(all, layer as Layer.Layer<never, unknown, unknown>)
  }, Layer.empty)
  const layer = orderApp("bench", services, apps.includes("gateway") ? GatewayRoutesLive : undefined).pipe(
    Layer.provide(Layer.setConfigProvider(provider)),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )
  const runtime = ManagedRuntime.make(layer as Layer.Layer<any, unknown, never>)
  const server = await runtime.runPromise(HttpServer.HttpServer)
  const address = server.address
  if (address._tag !== "TcpAddress") throw new Error("gateway is not on TCP")
  return {
    base: `http://127.0.0.1:${address.port}`,
    finishedSubjects: [eventSubject("OrderCompleted"), eventSubject("OrderCancelled")],
    close: () => runtime.dispose()
  }
}

/**
 * The raw client doing the messaging of the workflow without its state: an HTTP endpoint that
 * publishes the order, then 8 durable consumers in a chain, each publishing the message on to the
 * next subject (awaiting the PubAck) before acking, as the orchestrator and workers do. No KV
 * (workflow state, idempotency, stock, ledger) and no decoding: a floor, not an equivalent.
 */
export const rawStack = async (raw: RawClient, replicas = 1): Promise<Stack> => {
  await ensureRawChain(raw.jsm, replicas)
  const hops = await Promise.all(Array.from({ length: RAW_HOPS }, (_, hop) => runRawHop(raw.js, hop)))
  const ingress = await serveRawIngress(raw.js)
  return {
    base: ingress.base,
    finishedSubjects: [rawFinishedSubject],
    close: async () => {
      for (const hop of hops) hop.stop()
      await ingress.close()
      await deleteRawChain(raw.jsm)
    }
  }
}

interface Drive {
  readonly latenciesMs: ReadonlyArray<number>
  readonly sent: number
  /** Orders per second actually sent (the schedule slips when the process is saturated). */
  readonly sentRate: number
  readonly failed: number
  /** Orders sent but not finished when sending stopped. */
  readonly lagAtEnd: number
  readonly allFinished: boolean
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))
let prefixes = 0

/** POSTs orders at `rate` per second for `seconds`, then waits up to `drainMs` for every one to finish. */
const drive = async (raw: RawClient, stack: Stack, rate: number, seconds: number, drainMs: number): Promise<Drive> => {
  const prefix = `b${Date.now().toString(36)}${++prefixes}`
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  const decoder = new TextDecoder()
  const subs = stack.finishedSubjects.map((subject) =>
    raw.nc.subscribe(subject, {
      callback: (_err, m) => {
        const id = (JSON.parse(decoder.decode(m.data)) as { orderId?: string }).orderId
        const at = id === undefined ? undefined : sentAt.get(id)
        if (id !== undefined && at !== undefined) {
          latencies.push(performance.now() - at)
          sentAt.delete(id)
        }
      }
    })
  )
  await raw.nc.flush()
  const total = Math.max(1, Math.round(rate * seconds))
  let failed = 0
  const start = performance.now()
  for (let i = 0; i < total; i++) {
    await sleep(start + (i * 1000) / rate - performance.now())
    const orderId = `${prefix}-${i}`
    sentAt.set(orderId, performance.now())
    fetch(`${stack.base}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ orderId, customerId: "bench", items: [{ sku: `sku-${i % 64}`, quantity: 1, unitPriceCents: 100 }] })
    }).then(
      async (r) => {
        await r.arrayBuffer()
        if (r.status !== 202) failed++
      },
      () => failed++
    )
  }
  // The driver shares its thread with the stacks: under load it falls behind the schedule, and
  // the rate it really sent at is what a step is judged on.
  const sentRate = total / Math.max(1e-3, (performance.now() - start) / 1000)
  await sleep(start + (total * 1000) / rate - performance.now())
  const lagAtEnd = total - latencies.length
  const deadline = performance.now() + drainMs
  while (latencies.length + failed < total && performance.now() < deadline) await sleep(50)
  for (const s of subs) s.unsubscribe()
  return { latenciesMs: latencies, sent: total, sentRate, failed, lagAtEnd, allFinished: latencies.length === total }
}

/**
 * Held: the orders went out at (95% of) the rate, nothing failed, everything finished, and less
 * than one second's worth of orders was outstanding when sending stopped.
 */
const held = (d: Drive, rate: number) => d.sentRate >= 0.95 * rate && d.failed === 0 && d.allFinished && d.lagAtEnd <= Math.max(3, rate)

/** Doubles the rate from `from` while it is held (up to `max`), then tries once between the last held and the first failed. */
const highestHeldRate = async (raw: RawClient, stack: Stack, from: number, max: number, stepSeconds: number): Promise<number> => {
  let good = 0
  let bad = 0
  for (let rate = from; rate <= max; rate *= 2) {
    if (held(await drive(raw, stack, rate, stepSeconds, 20_000), rate)) good = rate
    else {
      bad = rate
      break
    }
  }
  if (good > 0 && bad > 0) {
    const mid = Math.round((good + bad) / 2)
    if (held(await drive(raw, stack, mid, stepSeconds, 20_000), mid)) good = mid
  }
  if (good === 0) {
    // Not even the starting rate: try a quarter of it once, so the figure says how far off it is.
    const low = Math.max(1, Math.round(from / 4))
    if (held(await drive(raw, stack, low, stepSeconds, 20_000), low)) good = low
  }
  return good
}

/**
 * End-to-end latency of the order workflow (POST /orders to the OrderCompleted event) at a fixed
 * rate, p50 and p99 per run, and the highest rate held without growing lag (a doubling step search);
 * against the raw-client chain of the same hops.
 */
export const benchWorkflow = async (url: string, raw: RawClient, s: WorkflowSettings): Promise<Row[]> => {
  const stacks = { conveyor: await conveyorStack(url, s.replicas), raw: await rawStack(raw, s.replicas) }
  const p50 = { conveyor: [] as number[], raw: [] as number[] }
  const p99 = { conveyor: [] as number[], raw: [] as number[] }
  const rates = { conveyor: [] as number[], raw: [] as number[] }
  try {
    // Warm-up: a second at the fixed rate on each (JIT, KV buckets, connection pools).
    for (const side of ["conveyor", "raw"] as const) await drive(raw, stacks[side], s.rate, 1, 20_000)
    for (let run = 0; run < s.runs; run++) {
      for (const side of run % 2 === 0 ? (["conveyor", "raw"] as const) : (["raw", "conveyor"] as const)) {
        const d = await drive(raw, stacks[side], s.rate, s.seconds, 30_000)
        if (d.latenciesMs.length === 0) throw new Error(`${side}: no order finished (${d.failed} of ${d.sent} requests failed)`)
        p50[side].push(percentile(d.latenciesMs, 50))
        p99[side].push(percentile(d.latenciesMs, 99))
      }
    }
    for (let run = 0; run < s.runs; run++) {
      for (const side of run % 2 === 0 ? (["conveyor", "raw"] as const) : (["raw", "conveyor"] as const)) {
        rates[side].push(await highestHeldRate(raw, stacks[side], s.rate, s.maxRate, s.stepSeconds))
      }
    }
  } finally {
    await stacks.conveyor.close()
    await stacks.raw.close()
  }
  const note = "raw: the same 8 hops without KV state or decoding"
  return [
    (() => {
      const conveyor = summarize(p50.conveyor)
      return row({
        id: "workflow-p50", figure: `order workflow end-to-end latency p50 at ${s.rate} orders/s`, unit: "ms", conveyor, raw: summarize(p50.raw), note,
        target: { text: "≤ 15 ms", met: conveyor.median <= 15 }
      })
    })(),
    row({ id: "workflow-p99", figure: `order workflow end-to-end latency p99 at ${s.rate} orders/s`, unit: "ms", conveyor: summarize(p99.conveyor), raw: summarize(p99.raw), note }),
    row({
      id: "workflow-max-rate",
      figure: `highest order rate held without growing lag (steps ×2 from ${s.rate}, ${s.stepSeconds} s each, capped at ${s.maxRate})`,
      unit: "orders/s",
      conveyor: summarize(rates.conveyor),
      raw: summarize(rates.raw),
      note
    })
  ]
}
