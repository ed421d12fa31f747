/** Median and spread of repeated runs of one figure. */
export interface Summary {
  readonly runs: ReadonlyArray<number>
  readonly median: number
  readonly min: number
  readonly max: number
  /** (max - min) / median, in percent: how far apart the runs were. */
  readonly spreadPct: number
}

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  if (p === 50 && sorted.length % 2 === 0) return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

export const summarize = (runs: ReadonlyArray<number>): Summary => {
  const m = median(runs)
  const min = Math.min(...runs)
  const max = Math.max(...runs)
  return { runs, median: m, min, max, spreadPct: m === 0 ? 0 : ((max - min) / m) * 100 }
}
