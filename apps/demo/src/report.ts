export interface DemoReport {
  readonly orders: number
  readonly completed: number
  readonly compensated: number
  readonly rejected: number
  readonly unfinished: number
  readonly redeliveries: number
  readonly stepResends: number
  readonly deadLettered: number
  readonly deadLetteredExpected: number
  readonly deduplicated: number
  readonly redeliveriesDeduplicated: number
  readonly seconds: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly traceId: string | undefined
  readonly problems: ReadonlyArray<string>
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

export const renderReport = (r: DemoReport, jaegerUi = "http://localhost:16686"): string => {
  const rows: Array<[string, string, string]> = [
    ["orders", String(r.orders), "placed through POST /orders"],
    ["completed", String(r.completed), "stock reserved, payment captured, shipment scheduled"],
    ["compensated", String(r.compensated), "payment declined: stock released, order cancelled"],
    ["rejected", String(r.rejected), "not enough stock: cancelled, nothing held"],
    ["retried", String(r.redeliveries + r.stepResends), `${r.redeliveries} redeliveries after transient faults, ${r.stepResends} step re-sends`],
    ["dead-lettered", String(r.deadLettered), `poison messages and an illegal transition (expected ${r.deadLetteredExpected})`],
    ["de-duplicated", String(r.deduplicated), `repeated Idempotency-Key (+${r.redeliveriesDeduplicated} redeliveries caught by the idempotency store)`],
    ["not finished", String(r.unfinished), "must be 0"],
    ["throughput", `${(r.orders / r.seconds).toFixed(1)}/s`, `${r.orders} orders end to end in ${r.seconds.toFixed(1)} s`],
    ["latency p50", `${Math.round(r.p50Ms)} ms`, "POST /orders to OrderCompleted/OrderCancelled"],
    ["latency p99", `${Math.round(r.p99Ms)} ms`, ""],
    ["trace id", r.traceId ?? "-", r.traceId === undefined ? "" : `${jaegerUi}/trace/${r.traceId}`]
  ]
  const w0 = Math.max(...rows.map((x) => x[0].length))
  const w1 = Math.max(...rows.map((x) => x[1].length))
  const line = `+-${"-".repeat(w0)}-+-${"-".repeat(w1)}-+`
  const body = rows.map(([a, b, c]) => `| ${a.padEnd(w0)} | ${b.padStart(w1)} | ${c}`)
  const verdict = r.problems.length === 0
    ? "reconciled: every order finished, no payment captured twice, stock back to start and no shipment for every cancelled order, no money or goods for an order that does not exist"
    : `NOT reconciled:\n${r.problems.map((p) => `  - ${p}`).join("\n")}`
  return [line, ...body, line, verdict].join("\n")
}
