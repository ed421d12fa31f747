import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy, type Settlement, tapResult } from "@conveyor/messaging"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { runJetStreamConsumer } from "../src/index.js"
import { setupRuntime } from "./runtime-support.js"
import { useTestClient, runScoped } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

describe("heartbeats against a real nats-server", () => {
  it("keeps a handler that runs for several ack waits from being redelivered under it", async () => {
    const rt = await setupRuntime(conn, { ackWaitMs: 1_000 })
    const starts: Array<number> = []
    const settled: Array<[number, Settlement]> = []
    const handler = defineHandler({
      schema: Schema.Struct({ id: Schema.String }),
      handle: () => Effect.zipRight(Effect.sync(() => void starts.push(Date.now())), Effect.sleep("3500 millis")),
      errors: {}
    })
    // Two runners on the durable: without heartbeats the second would get the message after 1 s.
    const runners = await Promise.all(
      [1, 2].map(() =>
        runScoped(
          conn.runtime,
          runJetStreamConsumer(handler, { consumer: rt.consumer, retry: makeRetryPolicy(), concurrency: 2, deadLetters: rt.deadLetters, middlewares: [tapResult((d, { settlement: s }) => void settled.push([d.deliveryCount, s]) )]})
        )
      )
    )
    await rt.publishRaw(`${rt.prefix}.jobs`, { id: "long" }, { msgId: "long" })
    await eventually(() => settled.length === 1, 20_000, "the long handler to settle")
    expect(settled).toEqual([[1, "acked"]])
    expect(starts).toHaveLength(1)
    const info = await rt.consumerInfo()
    expect(info.num_redelivered).toBe(0)
    expect(info.num_ack_pending).toBe(0)
    for (const r of runners) await r.close()
  }, 60_000)
})
