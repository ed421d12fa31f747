import { eventually } from "@conveyor/testing"
import { DeadLetterHeaders, defineHandler, makeRetryPolicy, Publisher, publishEvent } from "@conveyor/messaging"
import { InMemorySpanExporter, layerTracingInMemory } from "@conveyor/telemetry"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Duration, Effect, Exit, Layer, ManagedRuntime, Schema, Scope } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@effect/vitest"
import { deadLetterTopology, ensureTopology, JetStreamPublisherLive, makeJetStreamPublisher, makeNatsConfig, NatsConnection, NatsConnectionLive, replayDeadLetters, runJetStreamConsumer } from "../src/index.js"
import { fromMsgHdrs } from "../src/internal/headers.js"

const Order = Schema.Struct({ id: Schema.String })
class Flaky extends Schema.TaggedError<Flaky>()("Flaky", {}) {}
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}

const server = useNatsServer()
const exporter = new InMemorySpanExporter()
let runtime: ManagedRuntime.ManagedRuntime<NatsConnection | Publisher, unknown>

beforeAll(async () => {
  const nats = NatsConnectionLive(makeNatsConfig({ servers: [server.url], name: "telemetry-tracing", connectTimeout: Duration.seconds(5) }))
  runtime = ManagedRuntime.make(
    JetStreamPublisherLive.pipe(Layer.provideMerge(nats), Layer.provideMerge(layerTracingInMemory(exporter, { serviceName: "tracing-e2e" })))
  )
  await runtime.runPromise(Effect.void)
})
afterAll(async () => {
  await runtime?.dispose()
})
beforeEach(() => exporter.reset())

const scopes: Array<Scope.CloseableScope> = []
afterAll(async () => {
  for (const s of scopes) await Effect.runPromise(Scope.close(s, Exit.void))
})
/** Runs a scoped effect (a consumer) for the rest of the file. */
const start = async <A, E>(effect: Effect.Effect<A, E, Scope.Scope | NatsConnection | Publisher>) => {
  const scope = await Effect.runPromise(Scope.make())
  scopes.push(scope)
  return runtime.runPromise(Scope.extend(effect, scope))
}

const setup = async (durables: ReadonlyArray<string>) => {
  const stream = uniqueName("TR")
  const prefix = stream.toLowerCase()
  const deadLetters = { stream: `${stream}_DLQ`, subjectPrefix: `${prefix}-dlq` }
  const topology = defineTopology({
    streams: [{ name: stream, subjects: [`${prefix}.>`] }, ...deadLetterTopology(deadLetters).streams],
    consumers: durables.map((durable) => ({ stream, durable, filterSubjects: [`${prefix}.${durable}`], ackWaitMs: 5_000 }))
  })
  await runtime.runPromise(ensureTopology(topology))
  const consumer = (durable: string) => topology.consumers.find((c) => c.durable === durable)!
  return { stream, prefix, deadLetters, consumer, subject: (durable: string) => `${prefix}.${durable}` }
}

const retry = makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100, jitter: 0 })

const spansNamed = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name)
const waitForSpans = (name: string, n: number) =>
  eventually(() => spansNamed(name).length >= n, 15_000, `${n} span(s) '${name}' (have ${exporter.getFinishedSpans().map((s) => s.name).join(", ")})`)
const one = (name: string): ReadableSpan => {
  const found = spansNamed(name)
  expect(found, name).toHaveLength(1)
  return found[0]!
}
const ids = (s: ReadableSpan) => s.spanContext()

describe("tracing through the JetStream runtime", () => {
  it("a three-hop chain (publish → handler that publishes → handler) is one trace", async () => {
    const t = await setup(["first", "second"])
    const seen: Array<string> = []
    const first = defineHandler({
      schema: Order,
      handle: (order, ctx) => Effect.map(ctx.message(Order, t.subject("second"), order, "next"), (m) => [m]),
      errors: { EncodeError: "dead-letter" }
    })
    const second = defineHandler({ schema: Order, handle: (order) => Effect.sync(() => void seen.push(order.id)).pipe(Effect.withSpan("record order")), errors: {} })
    await start(runJetStreamConsumer(first, { consumer: t.consumer("first"), retry, deadLetters: t.deadLetters }))
    await start(runJetStreamConsumer(second, { consumer: t.consumer("second"), retry, deadLetters: t.deadLetters }))

    await runtime.runPromise(publishEvent(Order, t.subject("first"), { id: "o-1" }, { msgId: "o-1" }))
    await waitForSpans(`process ${t.subject("second")}`, 1)
    expect(seen).toEqual(["o-1"])

    const publish1 = one(`publish ${t.subject("first")}`)
    const process1 = one(`process ${t.subject("first")}`)
    const publish2 = one(`publish ${t.subject("second")}`)
    const process2 = one(`process ${t.subject("second")}`)
    const handlerSpan = one("record order")
    const chain = [publish1, process1, publish2, process2, handlerSpan]
    expect(new Set(chain.map((s) => ids(s).traceId)).size).toBe(1)
    expect(publish1.parentSpanContext).toBeUndefined()
    expect(process1.parentSpanContext?.spanId).toBe(ids(publish1).spanId)
    expect(publish2.parentSpanContext?.spanId).toBe(ids(process1).spanId)
    expect(process2.parentSpanContext?.spanId).toBe(ids(publish2).spanId)
    expect(handlerSpan.parentSpanContext?.spanId).toBe(ids(process2).spanId)
    expect(process1.links.map((l) => l.context.spanId)).toEqual([ids(publish1).spanId])
    expect(process2.links.map((l) => l.context.spanId)).toEqual([ids(publish2).spanId])
    expect([publish1.kind, process1.kind, publish2.kind, process2.kind]).toEqual([SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CONSUMER])
    // The broker each messaging span talked to (the messaging conventions' server.address/port).
    const { hostname, port } = new URL(server.url.replace(/^nats:/, "http:"))
    for (const s of [publish1, process1, publish2, process2]) expect(s.attributes).toMatchObject({ "server.address": hostname, "server.port": Number(port) })
    expect(publish1.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.destination.name": t.subject("first"),
      "messaging.message.id": "o-1",
      "messaging.nats.stream": t.stream,
      "messaging.nats.message.stream_sequence": 1
    })
    expect(process1.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.destination.name": t.subject("first"),
      "messaging.message.id": "o-1",
      "messaging.consumer.group.name": "first",
      "messaging.nats.message.delivery_count": 1,
      "messaging.nats.stream": t.stream,
      "messaging.nats.message.stream_sequence": 1,
      "conveyor.settlement": "acked"
    })
    // The produced message's id derives from the incoming one.
    expect(publish2.attributes["messaging.message.id"]).toBe("o-1>next")
    expect(process2.attributes).toMatchObject({ "messaging.consumer.group.name": "second", "messaging.message.id": "o-1>next" })
    expect(spansNamed(`process ${t.subject("first")}`).every((s) => s.resource.attributes["service.name"] === "tracing-e2e")).toBe(true)
  })

  it("a message that fails once then succeeds: two process spans in one trace, numbered by attempt", async () => {
    const t = await setup(["flaky"])
    let calls = 0
    const handler = defineHandler({
      schema: Order,
      handle: () => (++calls === 1 ? Effect.fail(new Flaky()) : Effect.void),
      errors: { Flaky: "retry" }
    })
    await start(runJetStreamConsumer(handler, { consumer: t.consumer("flaky"), retry, deadLetters: t.deadLetters }))
    await runtime.runPromise(publishEvent(Order, t.subject("flaky"), { id: "o-2" }))
    const name = `process ${t.subject("flaky")}`
    await waitForSpans(name, 2)
    const publish = one(`publish ${t.subject("flaky")}`)
    const [firstTry, secondTry] = [...spansNamed(name)].sort(
      (a, b) => Number(a.attributes["messaging.nats.message.delivery_count"]) - Number(b.attributes["messaging.nats.message.delivery_count"])
    )
    expect(firstTry!.attributes["messaging.nats.message.delivery_count"]).toBe(1)
    expect(secondTry!.attributes["messaging.nats.message.delivery_count"]).toBe(2)
    for (const s of [firstTry!, secondTry!]) {
      expect(ids(s).traceId).toBe(ids(publish).traceId)
      expect(s.parentSpanContext?.spanId).toBe(ids(publish).spanId)
    }
    expect(ids(firstTry!).spanId).not.toBe(ids(secondTry!).spanId)
    expect(firstTry!.status.code).toBe(SpanStatusCode.ERROR)
    expect(firstTry!.attributes).toMatchObject({ "conveyor.settlement": "retried", "error.type": "Flaky" })
    expect(firstTry!.events.find((e) => e.name === "retry_scheduled")?.attributes).toMatchObject({ "exception.type": "Flaky", "conveyor.retry.delay_ms": 100 })
    expect(secondTry!.status.code).not.toBe(SpanStatusCode.ERROR)
    expect(secondTry!.attributes["conveyor.settlement"]).toBe("acked")
  })

  it("a dead-lettered message has the event with its error; its replay links back to the original trace", async () => {
    const t = await setup(["strict"])
    let reject = true
    const handled: Array<string> = []
    const handler = defineHandler({
      schema: Order,
      handle: (order) => (reject ? Effect.fail(new Rejected({ reason: "card declined" })) : Effect.sync(() => void handled.push(order.id))),
      errors: { Rejected: "dead-letter" }
    })
    await start(runJetStreamConsumer(handler, { consumer: t.consumer("strict"), retry, deadLetters: t.deadLetters }))
    await runtime.runPromise(publishEvent(Order, t.subject("strict"), { id: "o-3" }))
    const name = `process ${t.subject("strict")}`
    await waitForSpans(name, 1)
    const original = one(`publish ${t.subject("strict")}`)
    const failed = one(name)
    expect(failed.status.code).toBe(SpanStatusCode.ERROR)
    expect(failed.attributes["conveyor.settlement"]).toBe("dead-lettered")
    expect(failed.events.find((e) => e.name === "dead_lettered")?.attributes).toMatchObject({
      "exception.type": "Rejected",
      "conveyor.dead_letter.reason": "permanent",
      "messaging.nats.message.delivery_count": 1
    })
    // The copy to the dead-letter stream is a PRODUCER span under the failed delivery's span.
    const copy = one(`publish ${t.deadLetters.subjectPrefix}.${t.stream}.strict`)
    expect(copy.kind).toBe(SpanKind.PRODUCER)
    expect(copy.parentSpanContext?.spanId).toBe(ids(failed).spanId)
    expect(ids(copy).traceId).toBe(ids(failed).traceId)

    // Replay with the replay API: the original trace context travels in the envelope.
    reject = false
    const client = await runtime.runPromise(NatsConnection)
    const dead = await client.jsm.streams.getMessage(t.deadLetters.stream, { seq: 1 })
    expect(dead).not.toBeNull()
    expect(fromMsgHdrs(dead!.header)[DeadLetterHeaders.originalTraceparent]).toBe(`00-${ids(original).traceId}-${ids(original).spanId}-01`)
    const report = await runtime.runPromise(replayDeadLetters(client, { sequences: [1] }, { deadLetters: t.deadLetters }))
    expect(report.replayed).toHaveLength(1)
    await waitForSpans(name, 2)
    expect(handled).toEqual(["o-3"])
    const replayed = spansNamed(name).find((s) => s !== failed)!
    expect(replayed.attributes).toMatchObject({ "conveyor.settlement": "acked", "conveyor.replay_of": failed.attributes["messaging.message.id"] })
    // A trace of its own, linked to the one that ended in the dead letter.
    expect(ids(replayed).traceId).not.toBe(ids(original).traceId)
    const back = replayed.links.find((l) => l.attributes?.["conveyor.link"] === "original")
    expect(back?.context.traceId).toBe(ids(original).traceId)
    expect(back?.context.spanId).toBe(ids(original).spanId)
  })

  it("a garbage traceparent: processed normally under a new trace", async () => {
    const t = await setup(["lenient"])
    const handled: Array<string> = []
    const handler = defineHandler({ schema: Order, handle: (order) => Effect.sync(() => void handled.push(order.id)), errors: {} })
    await start(runJetStreamConsumer(handler, { consumer: t.consumer("lenient"), retry, deadLetters: t.deadLetters }))
    const client = await runtime.runPromise(NatsConnection)
    // Straight through the untraced publisher, so the broken headers reach the consumer as sent.
    await Effect.runPromise(
      makeJetStreamPublisher(client).publish({
        subject: t.subject("lenient"),
        payload: new TextEncoder().encode(JSON.stringify({ id: "o-4" })),
        headers: { traceparent: "00-not-a-trace-zz", tracestate: "@@@", baggage: "%%%;;=" }
      })
    )
    const name = `process ${t.subject("lenient")}`
    await waitForSpans(name, 1)
    expect(handled).toEqual(["o-4"])
    const span = one(name)
    expect(span.parentSpanContext).toBeUndefined()
    expect(span.links).toHaveLength(0)
    expect(ids(span).traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(span.attributes["conveyor.settlement"]).toBe("acked")
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR)
  })
})
