/** Plain-text tables and units for humans; `--json` output never goes through here. */

export type Align = "left" | "right"

export interface Column<T> {
  readonly header: string
  readonly value: (row: T) => string
  readonly align?: Align
}

export const table = <T>(rows: ReadonlyArray<T>, columns: ReadonlyArray<Column<T>>): string => {
  const cells = rows.map((row) => columns.map((c) => c.value(row)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
  const line = (values: ReadonlyArray<string>) =>
    values
      .map((v, i) => (columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n")
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"]

export const bytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

/** "3s ago", "5m ago", "2h ago", "4d ago"; "-" when never. */
export const ago = (at: Date | undefined, now: Date): string => {
  if (at === undefined) return "-"
  const s = Math.max(0, Math.round((now.getTime() - at.getTime()) / 1000))
  if (s < 120) return `${s}s ago`
  if (s < 7_200) return `${Math.round(s / 60)}m ago`
  if (s < 172_800) return `${Math.round(s / 3_600)}h ago`
  return `${Math.round(s / 86_400)}d ago`
}

/** Header values and error messages stay on one line in tables. */
export const oneLine = (s: string, max = 80): string => {
  const flat = s.replace(/\s+/g, " ").trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}
