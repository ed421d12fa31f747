import { eventually } from "@conveyor/testing"
import { makeMemoryIdempotencyStore, makeRetryPolicy, publishEvent } from "@conveyor/messaging"
import { deadLetterTopology, ensureTopology, NatsConnection, runJetStreamConsumer } from "@conveyor/nats"
import { outcomeHandler, Work } from "@conveyor/nats/testing"
import { defineTopology } from "@conveyor/topology"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { Durables, eventSubject, StreamNames } from "@conveyor/domain"
import { consumerTelemetry, GatewayRoutesLive, NotifierLive, Settlements } from "../src/index.js"
import { getOrder, postOrder, startStack, useStack } from "./support.js"

// A consumer wired as every order app wires its own (consumerTelemetry, under orderApp's
// Metrics), on a stream of its own, with a handler that produces each outcome on purpose.
const server = useNatsServer()
const stream = uniqueName("METRICS")
const subject = `${stream.toLowerCase()}.work`
const deadLetters = { stream: `${stream}_DLQ`, subjectPrefix: `${stream.toLowerCase()}-dlq` }
const topology = defineTopology({
  streams: [{ name: stream, subjects: [subject] }, ...deadLetterTopology(deadLetters).streams],
  consumers: [{ stream, durable: "counted", filterSubjects: [subject], ackWaitMs: 5_000 }]
})

const idempotency = makeMemoryIdempotencyStore()
const handler = outcomeHandler()

const Counted = Layer.scopedDiscard(Effect.gen(function* () {
  yield* ensureTopology(topology)
  yield* runJetStreamConsumer(handler, {
    consumer: topology.consumers[0]!,
    retry: makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100, jitter: 0 }),
    idempotency,
    deadLetters,
    ...(yield* consumerTelemetry("counted"))
  })
}))

const stack = useStack(server, {}, Counted)

const processed = async () => {
  const text = await (await fetch(`${stack.base}/metrics`)).text()
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(/^conveyor_messages_processed_total\{consumer="counted",outcome="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2])
  return counts
}
const settled = () => stack.runtime.runPromise(Effect.map(Settlements, (s) => s.snapshot()["counted"] ?? {}))

describe("conveyor_messages_processed_total in an order app", () => {
  it("moves by exactly one per delivery, under the same outcome the demo's table counts", async () => {
    // "dup" was done before (duplicate); "held" is claimed elsewhere for 3 s (deferred once: it comes back when the lease ends).
    const done = await Effect.runPromise(idempotency.claim("counted.dup", 60_000))
    if (done._tag !== "Claimed") throw new Error("claim")
    await Effect.runPromise(idempotency.complete(done.claim, []))
    const held = await Effect.runPromise(idempotency.claim("counted.held", 3_000))
    if (held._tag !== "Claimed") throw new Error("claim")

    const publish = (work: typeof Work.Type) => stack.runtime.runPromise(publishEvent(Work, subject, work, { msgId: work.id }))
    for (const work of [{ id: "ok" }, { id: "flaky", fail: "once" as const }, { id: "bad", fail: "always" as const }, { id: "dup" }, { id: "held" }]) await publish(work)
    await eventually(async () => ((await settled()).deferred ?? 0) >= 1, 20_000, "the held message to be deferred")
    await Effect.runPromise(idempotency.release(held.claim))
    await eventually(async () => ((await settled()).acked ?? 0) >= 3, 20_000, "ok, flaky and held to be acked")

    expect(await settled()).toEqual({ acked: 3, retried: 1, "dead-lettered": 1, duplicate: 1, deferred: 1 })
    expect(await processed()).toEqual({ acked: 3, retried: 1, dead_lettered: 1, duplicate: 1, deferred: 1, abandoned: 0, dead_letter_failed: 0 })
  }, 60_000)
})

const scrape = async (base: string) => (await (await fetch(`${base}/metrics`)).text()).split("\n")

describe("metrics the order apps export", () => {
  it("the notifier reports the dead-letter depth, in total and from its own durable, polled every QUEUE_METRICS_INTERVAL_MS", async () => {
    const notifier = await startStack(server.url, { QUEUE_METRICS_INTERVAL_MS: "100" }, NotifierLive, undefined, "notifier")
    try {
      await notifier.runtime.runPromise(Effect.flatMap(NatsConnection, (c) => Effect.promise(() => c.js.publish(eventSubject("OrderCompleted"), "{not json"))))
      const lines = await eventually(async () => {
        const lines = await scrape(notifier.base)
        return lines.includes(`conveyor_consumer_dead_letter_depth{stream="${StreamNames.deadLetters}",source_stream="${StreamNames.events}",consumer="${Durables.notifier}"} 1`) ? lines : undefined
      }, 20_000, "the notifier's dead letter on /metrics")
      expect(lines).toContain(`conveyor_dead_letter_depth{stream="${StreamNames.deadLetters}"} 1`)
    } finally {
      await notifier.close()
    }
  }, 60_000)

  it("the gateway counts and times its requests by route and status, and times its publishes", async () => {
    const gateway = await startStack(server.url, {}, Layer.empty, GatewayRoutesLive, "gateway")
    try {
      const placed = await postOrder(gateway.base, { customerId: "c-1", items: [{ sku: "a", quantity: 1, unitPriceCents: 5 }] })
      expect(placed.status).toBe(202)
      expect((await getOrder(gateway.base, placed.body.orderId)).status).toBe(200)
      expect((await getOrder(gateway.base, "nope")).status).toBe(404)
      const lines = await scrape(gateway.base)
      expect(lines).toContain('conveyor_http_request_duration_seconds_count{method="POST",route="/orders",status="202"} 1')
      expect(lines).toContain('conveyor_http_request_duration_seconds_count{method="GET",route="/orders/:id",status="200"} 1')
      expect(lines).toContain('conveyor_http_request_duration_seconds_count{method="GET",route="/orders/:id",status="404"} 1')
      expect(lines).toContain(`conveyor_publish_duration_seconds_count{subject="${eventSubject("OrderPlaced")}"} 1`)
    } finally {
      await gateway.close()
    }
  }, 60_000)
})
