import { eventually } from "@conveyor/testing"
import { makeRetryPolicy, Publisher } from "@conveyor/messaging"
import { deadLetterTopology, ensureTopology, JetStreamPublisherLive, makeNatsConfig, NatsConnection, NatsConnectionLive } from "@conveyor/nats"
import { InMemorySpanExporter, layerTracingInMemory } from "@conveyor/telemetry"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { SpanKind } from "@opentelemetry/api"
import { Duration, Effect, Layer, ManagedRuntime, Option, Scope, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { runWorkflow } from "../src/index.js"
import { CounterEvent, counterWorkflow } from "./counter-workflow.js"
import { subjectsUnder } from "./support.js"
import { createBucket } from "./support.js"

const server = useNatsServer()
const exporter = new InMemorySpanExporter()
let runtime: ManagedRuntime.ManagedRuntime<NatsConnection | Publisher, unknown>
beforeAll(() => {
  const connection = NatsConnectionLive(makeNatsConfig({ servers: [server.url], name: "timer-trace", connectTimeout: Duration.seconds(5), reconnectFor: Duration.seconds(30) }))
  runtime = ManagedRuntime.make(JetStreamPublisherLive.pipe(Layer.provideMerge(connection), Layer.provideMerge(layerTracingInMemory(exporter))))
})
afterAll(async () => {
  await runtime?.dispose()
})

describe("a workflow timer's firing", () => {
  it("continues the trace of the transition that set it (its publish span is that transition's child)", async () => {
    const name = uniqueName("tt").toLowerCase()
    const stream = name.toUpperCase()
    const client = await runtime.runPromise(NatsConnection)
    await client.jsm.streams.add({ name: stream, subjects: [`${name}.>`] })
    await runtime.runPromise(ensureTopology(deadLetterTopology())) // a consumer refuses to start without it
    await client.jsm.consumers.add(stream, { durable_name: "orchestrator", ack_policy: "explicit" as never, ack_wait: 5_000_000_000 })
    await createBucket(client, `${name}-wf`)
    await createBucket(client, `${name}-timers`)
    const scope = await Effect.runPromise(Scope.make())
    try {
      await runtime.runPromise(Scope.extend(Effect.flatMap(Publisher, (publisher) => runWorkflow({
        definition: counterWorkflow,
        schema: CounterEvent,
        select: Option.some,
        ...subjectsUnder(name),
        consumer: { stream, durable: "orchestrator", ackWaitMs: 5_000, maxDeliver: -1, maxAckPending: 100, deliverPolicy: "all" },
        buckets: { instances: `${name}-wf`, timers: `${name}-timers` },
        retry: makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100 }),
        timerPollMs: 50,
        publisher
      })), scope))
      await runtime.runPromise(Effect.flatMap(Publisher, (p) =>
        p.publish({ subject: `${name}.start`, payload: new TextEncoder().encode(JSON.stringify({ type: "Start", id: "w1", timeoutMs: 200 })), msgId: "start-w1" })))
      const spans = () => exporter.getFinishedSpans()
      await eventually(() => spans().filter((s) => s.name === `process ${name}.expired`).length === 1, 15_000, "the timer's event to be processed")
      const started = spans().find((s) => s.name === `process ${name}.start`)!
      const firing = spans().find((s) => s.name === `publish ${name}.expired`)!
      expect(firing.kind).toBe(SpanKind.PRODUCER)
      expect(firing.spanContext().traceId).toBe(started.spanContext().traceId)
      expect(firing.parentSpanContext?.spanId).toBe(started.spanContext().spanId)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 30_000)
})
