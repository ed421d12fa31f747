import type { Summary } from "./stats.js"

/** One figure measured for Conveyor and for the raw client in the same run. */
export interface Row {
  readonly id: string
  readonly figure: string
  readonly unit: string
  readonly conveyor: Summary
  readonly raw: Summary
  /** Conveyor's median over the raw median. */
  readonly ratio: number
  readonly target?: { readonly text: string; readonly met: boolean } | undefined
  readonly note?: string | undefined
}

export interface Report {
  readonly command: string
  readonly startedAt: string
  readonly settings: Readonly<Record<string, number | string | boolean>>
  readonly rows: ReadonlyArray<Row>
}

export const row = (r: Omit<Row, "ratio">): Row => ({ ...r, ratio: r.raw.median === 0 ? 0 : r.conveyor.median / r.raw.median })

const fmt = (n: number): string =>
  !Number.isFinite(n) ? String(n) : Math.abs(n) >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2)

const cell = (s: Summary): string => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}, ±${s.spreadPct.toFixed(0)}%)`

/** A Markdown table: median (min–max, spread) of each side, the ratio, and the target. */
export const formatTable = (report: Report): string => {
  const lines = [
    "| figure | unit | Conveyor median (min–max, spread) | raw nats.js median (min–max, spread) | Conveyor / raw | target |",
    "| --- | --- | --- | --- | --- | --- |"
  ]
  for (const r of report.rows) {
    const target = r.target === undefined ? "—" : `${r.target.met ? "MET" : "NOT MET"}: ${r.target.text}`
    lines.push(`| ${r.figure}${r.note ? ` (${r.note})` : ""} | ${r.unit} | ${cell(r.conveyor)} | ${cell(r.raw)} | ${r.ratio.toFixed(2)}× | ${target} |`)
  }
  return lines.join("\n")
}
