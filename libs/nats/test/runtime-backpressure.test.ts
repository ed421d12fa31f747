import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { makeJetStreamPublisher, runJetStreamConsumer } from "../src/index.js"
import { setupRuntime } from "./runtime-support.js"
import { useTestClient, runScoped } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const Job = Schema.Struct({ n: Schema.Number })

describe("backpressure against a real nats-server", () => {
  it("keeps in-flight handlers at the concurrency bound and the server's unacked window near it while a backlog of thousands drains", async () => {
    const rt = await setupRuntime(conn)
    const total = 3_000
    const concurrency = 8
    const utf8 = new TextEncoder()
    await Effect.runPromise(
      makeJetStreamPublisher(conn.client).publishAll(
        Array.from({ length: total }, (_, n) => ({ subject: `${rt.prefix}.jobs`, payload: utf8.encode(JSON.stringify({ n })), msgId: `job-${n}` })),
        { maxInFlight: 256 }
      )
    )
    let inFlight = 0
    let peak = 0
    const seen = new Set<number>()
    let duplicates = 0
    const handler = defineHandler({
      schema: Job,
      handle: (job) =>
        Effect.gen(function* () {
          peak = Math.max(peak, ++inFlight)
          yield* Effect.sleep("1 millis")
          inFlight--
          if (seen.has(job.n)) duplicates++
          seen.add(job.n)
        }),
      errors: {}
    })
    const running = await runScoped(conn.runtime, runJetStreamConsumer(handler, { consumer: rt.consumer, retry: makeRetryPolicy(), concurrency, deadLetters: rt.deadLetters }))
    let peakAckPending = 0
    await eventually(
      async () => {
        const info = await rt.consumerInfo()
        peakAckPending = Math.max(peakAckPending, info.num_ack_pending)
        return seen.size === total && info.num_ack_pending + info.num_pending === 0
      },
      120_000,
      "the backlog to drain"
    )
    expect(peak).toBe(concurrency)
    expect(duplicates).toBe(0)
    // What the client holds beyond the handlers is bounded by the pull batch (= concurrency) plus
    // the runner's hand-off chunk (up to a batch) and the delivery waiting for it, whatever the backlog.
    expect(peakAckPending).toBeGreaterThan(0)
    expect(peakAckPending).toBeLessThanOrEqual(concurrency * 3 + 2)
    await running.close()
  }, 150_000)
})
