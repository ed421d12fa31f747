import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect } from "effect"
import v8 from "node:v8"
import vm from "node:vm"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { runJetStreamConsumer } from "../../src/index.js"
import { useTestClient, runScoped } from "../support.js"
import { Job } from "./fixtures/job.js"
import { cleanupFaults, faultSetup } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
afterAll(cleanupFaults)

const MB = 1024 * 1024
// A full GC before each heap sample, so the figures are what is retained rather than garbage
// waiting for the collector (whose timing depends on the load of the machine).
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void
const retainedHeap = () => {
  gc()
  return process.memoryUsage().heapUsed
}
const total = 100_000
const concurrency = 32

describe("a burst of 100k messages on a slow handler", () => {
  it("keeps in-flight within the bound and memory flat while the backlog drains to zero", { timeout: 300_000 }, async () => {
    const setup = await faultSetup(conn.runtime, "BURST", { ackWaitMs: 30_000, maxAckPending: 1_000 })
    // Published with the raw client, a window of PubAcks at a time: the publisher is not under test
    // here, and the box's two cores are better spent on the consumer.
    const utf8 = new TextEncoder()
    const publishStarted = Date.now()
    for (let i = 0; i < total; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, total - i) }, (_, k) => conn.client.js.publish(setup.jobSubject, utf8.encode(`{"id":"b-${i + k}","n":${i + k}}`)))
      )
    }
    const publishMs = Date.now() - publishStarted
    expect((await conn.client.jsm.streams.info(setup.name)).state.messages).toBe(total)

    const seen = new Uint8Array(total)
    let handled = 0
    let inFlight = 0
    let maxInFlight = 0
    const handler = defineHandler({
      schema: Job,
      handle: (job) =>
        Effect.gen(function* () {
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          // "Slow": every handler yields to the timer queue for about a millisecond.
          yield* Effect.sleep("1 millis")
          seen[job.n] = (seen[job.n] ?? 0) + 1
          handled++
          inFlight--
        }),
      errors: {}
    })
    const baselineHeap = retainedHeap()
    const consumeStarted = Date.now()
    const running = await runScoped(
      conn.runtime,
      runJetStreamConsumer(handler, { consumer: setup.consumer, retry: makeRetryPolicy({ maxAttempts: 3 }), concurrency, deadLetters: false })
    )

    // Sample memory, in-flight and lag as the backlog drains; decide nothing by time.
    const samples: Array<{ handled: number; rss: number; heap: number; pending: number; runnerInFlight: number }> = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const info = await conn.client.jsm.consumers.info(setup.name, "worker")
        const heap = retainedHeap()
        const runnerInFlight = await Effect.runPromise(running.value.inFlight)
        samples.push({ handled, rss: process.memoryUsage().rss, heap, pending: info.num_pending, runnerInFlight })
        await new Promise((r) => setTimeout(r, 1_000))
      }
    })()
    // Generous: ~30 s on an idle 2-core box, several times that when other test runs share it.
    await eventually(() => handled >= total, 270_000, "the backlog to be handled")
    const consumeMs = Date.now() - consumeStarted
    await eventually(async () => {
      const info = await conn.client.jsm.consumers.info(setup.name, "worker")
      return info.num_pending === 0 && info.num_ack_pending === 0
    }, 30_000, "the lag to drain")
    sampling = false
    await sampler
    await running.close()

    const quarter = (from: number, to: number) => samples.filter((s) => s.handled >= total * from && s.handled < total * to)
    const peak = (xs: typeof samples, key: "rss" | "heap") => Math.max(...xs.map((s) => s[key]))
    const early = quarter(0.05, 0.35)
    const late = quarter(0.65, 0.95)
    const report = {
      publishMsgPerSec: Math.round(total / (publishMs / 1000)),
      consumeMsgPerSec: Math.round(total / (consumeMs / 1000)),
      maxInFlight,
      samples: samples.length,
      heapBaselineMB: Math.round(baselineHeap / MB),
      rssEarlyMB: Math.round(peak(early, "rss") / MB),
      rssLateMB: Math.round(peak(late, "rss") / MB),
      heapEarlyMB: Math.round(peak(early, "heap") / MB),
      heapLateMB: Math.round(peak(late, "heap") / MB),
      pendingFirst: samples[0]?.pending
    }
    console.log(`[burst] ${JSON.stringify(report)}`)

    expect(handled).toBe(total)
    expect(seen.every((n) => n === 1)).toBe(true)
    expect(maxInFlight).toBeLessThanOrEqual(concurrency)
    expect(Math.max(...samples.map((s) => s.runnerInFlight))).toBeLessThanOrEqual(concurrency)
    // The backlog only shrinks (nothing is published meanwhile) and ends at zero.
    const pending = samples.map((s) => s.pending)
    expect(pending.every((p, i) => i === 0 || p <= pending[i - 1]!)).toBe(true)
    expect(pending[0]).toBeGreaterThan(total / 2)
    // Memory plateaus: the retained heap while draining stays near what it was before the runner
    // started and does not rise from the first part of the drain to the last (holding the backlog
    // as messages would take tens of MB: 100k client messages with their headers and info).
    expect(early.length).toBeGreaterThan(0)
    expect(late.length).toBeGreaterThan(0)
    expect(peak(samples, "heap")).toBeLessThan(baselineHeap + 24 * MB)
    expect(peak(late, "heap")).toBeLessThan(peak(early, "heap") + 8 * MB)
    expect(peak(late, "rss")).toBeLessThan(peak(early, "rss") + 64 * MB)
  })
})
