import { describe, expect, it } from "@effect/vitest"
import { defaultSettings, formatTable, runBench } from "../src/index.js"

const expectedRows = [
  "publish-256",
  "publish-256-noasynctraces",
  "publish-256-traced",
  "publish-4096",
  "publish-4096-noasynctraces",
  "publish-4096-traced",
  "consume-runner",
  "consume-kv",
  "consume-kv-same-work",
  "consume-kv-pipelined",
  "consume-traced",
  "consume-traced-same-work",
  "consume-traced-otel-context",
  "consume-traced-sampled",
  "consume-confirmed",
  "workflow-p50",
  "workflow-p99",
  "workflow-max-rate",
  "chain-throughput",
  "chain-p50",
  "chain-p99",
  "chain-cpu",
  "chain-broker-ops",
  "chain-raw-floor",
  "rss-backlog",
  "rss-backlog-rate",
  ...["fsync", "r3", "r3fsync"].flatMap((setup) => ["publish", "p50", "p99", "max-rate"].map((figure) => `durability-${setup}-${figure}`))
]

describe("bench --quick, end to end with tiny counts", () => {
  it("reports every figure for both sides with positive numbers, a ratio and the targets", async () => {
    const settings = {
      ...defaultSettings(true),
      publishMessages: 300,
      consumeMessages: 300,
      backlog: 500,
      workflowRate: 4,
      workflowSeconds: 1,
      stepSeconds: 1,
      maxRate: 8,
      chainOrders: 20,
      chainInFlight: 4
    }
    const report = await runBench(settings, "vitest")
    expect(report.rows.map((r) => r.id)).toEqual(expectedRows)
    for (const r of report.rows) {
      for (const side of [r.conveyor, r.raw]) {
        expect(side.runs.length, r.id).toBe(settings.runs)
        expect(side.median, r.id).toBeGreaterThan(0)
        expect(side.min, r.id).toBeLessThanOrEqual(side.max)
      }
      expect(r.ratio, r.id).toBeGreaterThan(0)
    }
    const targets = report.rows.filter((r) => r.target !== undefined).map((r) => r.id)
    expect(targets).toEqual(["publish-256", "publish-4096", "consume-runner", "consume-kv", "consume-traced", "workflow-p50", "chain-throughput", "chain-p50", "rss-backlog"])
    const table = formatTable(report)
    expect(table.split("\n")).toHaveLength(2 + expectedRows.length)
  }, 360_000)
})
