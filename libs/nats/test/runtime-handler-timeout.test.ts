import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy, type Outcome, type Settlement, tapResult } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { runJetStreamConsumer } from "../src/index.js"
import { setupRuntime } from "./runtime-support.js"
import { runScoped, useTestClient } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

describe("handlerTimeoutMs against a real nats-server", () => {
  it("interrupts a hung handler, whose heartbeats would keep its message forever, and retries it with backoff", async () => {
    const rt = await setupRuntime(conn, { ackWaitMs: 1_000 })
    let interrupted = 0
    const settled: Array<[number, Outcome["_tag"], string, Settlement]> = []
    const handler = defineHandler({
      schema: Schema.Struct({ id: Schema.String }),
      // The first delivery hangs (and would send heartbeats forever); the second returns at once.
      handle: (_job, ctx) =>
        ctx.delivery.deliveryCount === 1 ? Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted++))) : Effect.void,
      errors: {}
    })
    const runner = await runScoped(
      conn.runtime,
      runJetStreamConsumer(handler, {
        consumer: rt.consumer,
        retry: makeRetryPolicy({ initialDelayMs: 200 }),
        handlerTimeoutMs: 2_500,
        deadLetters: rt.deadLetters,
        middlewares: [tapResult((d, { outcome: o, settlement: s }) => void settled.push([d.deliveryCount, o._tag, o._tag === "Failed" ? o.error.tag : "", s]))]
      })
    )
    await rt.publishRaw(`${rt.prefix}.jobs`, { id: "hangs" }, { msgId: "hangs" })
    await eventually(() => settled.length === 2, 20_000, `the hung handler to be retried: ${JSON.stringify(settled)}`)
    expect(settled).toEqual([
      [1, "Failed", "HandlerTimeout", "retried"],
      [2, "Processed", "", "acked"]
    ])
    expect(interrupted).toBe(1)
    await runner.close()
  }, 60_000)
})
