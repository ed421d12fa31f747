import { describe, expect, it } from "@effect/vitest"
import { sampleCommands, sampleEvents } from "./samples.js"
import {
  appAccess, appNames, Buckets, commandSubject, deadLetterSubject, Durables, eventSubject, idempotencyBucket, IdempotentDurables, orderTopology, publishersOf,
  isOrderWorkflowEvent, StreamNames, subjectMatches
} from "../src/index.js"

const stream = (name: string) => orderTopology.streams.find((s) => s.name === name)!
const inStream = (subject: string) => orderTopology.streams.filter((s) => s.subjects.some((p) => subjectMatches(p, subject)))

describe("order topology", () => {
  it("declares the three file-backed streams with a 2 minute duplicate window", () => {
    expect(orderTopology.streams.map((s) => [s.name, s.subjects])).toEqual([
      [StreamNames.events, ["orders.events.>", "replay.ORDER_EVENTS.*"]],
      [StreamNames.commands, ["orders.commands.>", "replay.ORDER_COMMANDS.*"]],
      [StreamNames.deadLetters, ["dlq.>"]]
    ])
    for (const s of orderTopology.streams) {
      expect(s).toMatchObject({ storage: "file", duplicateWindowMs: 120_000 })
      expect(s.maxAgeMs).toBeGreaterThan(0)
    }
    expect(stream(StreamNames.deadLetters).maxAgeMs).toBeGreaterThan(stream(StreamNames.events).maxAgeMs)
  })

  it("gives every durable on an order stream a replay subject in its own stream that no other durable takes", () => {
    for (const c of orderTopology.consumers.filter((c) => c.stream !== `KV_${Buckets.timers}`)) {
      expect(c.replaySubject).toBe(`replay.${c.stream}.${c.durable}`)
      expect(inStream(c.replaySubject!).map((s) => s.name)).toEqual([c.stream])
      const takers = orderTopology.consumers.filter((o) => [...(o.filterSubjects ?? []), o.replaySubject].some((f) => f !== undefined && subjectMatches(f, c.replaySubject!)))
      expect(takers.map((o) => o.durable)).toEqual([c.durable])
    }
    expect(appAccess.ctl.publish).toEqual(expect.arrayContaining(orderTopology.consumers.flatMap((c) => (c.replaySubject === undefined ? [] : [c.replaySubject]))))
  })

  it("routes every message and dead letter to exactly one stream", () => {
    for (const m of [...sampleEvents.map(eventSubject), ...sampleCommands.map(commandSubject)]) {
      expect(inStream(m)).toHaveLength(1)
    }
    for (const c of orderTopology.consumers) {
      expect(inStream(deadLetterSubject(c.stream, c.durable)).map((s) => s.name)).toEqual([StreamNames.deadLetters])
    }
  })

  it("declares the five durables with their filters, 30 s ack wait and bounded ack pending, and the timers' durable", () => {
    expect(orderTopology.consumers.map((c) => [c.stream, c.durable, c.filterSubjects])).toEqual([
      [StreamNames.events, "orchestrator", [
        "orders.events.order-placed", "orders.events.stock-reserved", "orders.events.stock-rejected", "orders.events.payment-captured",
        "orders.events.payment-declined", "orders.events.shipment-scheduled", "orders.events.shipment-recalled", "orders.events.stock-released",
        "orders.events.payment-refunded", "orders.events.step-timed-out"
      ]],
      [StreamNames.commands, "inventory-worker", ["orders.commands.inventory.>"]],
      [StreamNames.commands, "payments-worker", ["orders.commands.payments.>"]],
      [StreamNames.commands, "shipping-worker", ["orders.commands.shipping.>"]],
      [StreamNames.events, "notifier", ["orders.events.order-completed", "orders.events.order-cancelled"]],
      [`KV_${Buckets.timers}`, "orchestrator-timers", [`$KV.${Buckets.timers}.>`]]
    ])
    // Each pending timer is an unacked message of the timers' durable: it has no cap.
    expect(orderTopology.consumers.at(-1)!.maxAckPending).toBe(-1)
    for (const c of orderTopology.consumers.slice(0, -1)) {
      expect(c.ackWaitMs).toBe(30_000)
      expect(c.maxAckPending).toBeGreaterThan(0)
      for (const f of c.filterSubjects!) expect(stream(c.stream).subjects.some((p) => subjectMatches(p, f.replace(">", "x")))).toBe(true)
    }
  })

  it("gives the orchestrator exactly the events its workflow consumes (never the outcomes it emits) and the notifier exactly the outcomes", () => {
    const takers = (event: (typeof sampleEvents)[number]) =>
      orderTopology.consumers.filter((c) => c.stream === StreamNames.events && c.filterSubjects!.some((f) => subjectMatches(f, eventSubject(event)))).map((c) => c.durable)
    for (const e of sampleEvents) {
      const outcome = e.type === "OrderCompleted" || e.type === "OrderCancelled"
      expect(takers(e), e.type).toEqual(outcome ? [Durables.notifier] : isOrderWorkflowEvent(e) ? [Durables.orchestrator] : [])
    }
    expect(new Set(sampleEvents.map((e) => e.type)).size).toBe(12)
  })

  it("declares the buckets with the TTLs the runtime relies on", () => {
    const bucket = (name: string) => orderTopology.buckets.find((b) => b.name === name)!
    expect(orderTopology.buckets.map((b) => b.name).sort()).toEqual([...Object.values(Buckets), ...IdempotentDurables.map(idempotencyBucket)].sort())
    // Only the notifier de-duplicates by message id: each worker's store write is its idempotency record.
    expect(orderTopology.buckets.map((b) => b.name).filter((name) => name.startsWith("idempotency-"))).toEqual(["idempotency-notifier"])
    for (const durable of IdempotentDurables) expect(bucket(`idempotency-${durable}`).ttlMs).toBe(3_600_000)
    expect(bucket("gateway-requests").ttlMs).toBe(86_400_000)
    expect(bucket("order-workflows").ttlMs).toBe(0)
    expect(bucket("order-timers").ttlMs).toBe(0)
  })
})

describe("app access", () => {
  it("gives every durable exactly one consuming app, and every app's durable exists", () => {
    const consumed = appNames.flatMap((app) => appAccess[app].consumes.map((c) => `${c.stream}/${c.durable}`))
    expect(consumed.sort()).toEqual(orderTopology.consumers.map((c) => `${c.stream}/${c.durable}`).sort())
    expect(appAccess.orchestrator.consumes).toEqual([
      { stream: StreamNames.events, durable: Durables.orchestrator },
      { stream: `KV_${Buckets.timers}`, durable: Durables.orchestratorTimers }
    ])
  })

  it("uses only declared buckets and gives every bucket a writer (ctl only reads)", () => {
    const declared = new Set(orderTopology.buckets.map((b) => b.name))
    for (const app of appNames) for (const b of appAccess[app].buckets) expect(declared.has(b.bucket)).toBe(true)
    for (const name of declared) {
      const writers = appNames.filter((app) => appAccess[app].buckets.some((b) => b.bucket === name && b.access === "write"))
      expect(writers.length, name).toBeGreaterThan(0)
    }
    expect(appAccess.ctl.buckets.every((b) => b.access === "read")).toBe(true)
  })

  it("publishes only into declared streams", () => {
    for (const app of appNames) {
      for (const subject of appAccess[app].publish) expect(inStream(subject.replace(">", "x")).length, `${app} ${subject}`).toBe(1)
    }
  })

  it("has one producing service per message (the operator apps, ctl and console, replay anything)", () => {
    const producers = (subject: string) => publishersOf(subject).filter((a) => !appAccess[a].operator)
    expect(producers(eventSubject("OrderPlaced"))).toEqual(["gateway"])
    expect(producers(eventSubject("StockReserved"))).toEqual(["inventory-worker"])
    expect(producers(eventSubject("PaymentRefunded"))).toEqual(["payments-worker"])
    expect(producers(eventSubject("ShipmentScheduled"))).toEqual(["shipping-worker"])
    expect(producers(eventSubject("StepTimedOut"))).toEqual(["orchestrator"])
    for (const e of sampleEvents) expect(producers(eventSubject(e)), e.type).toHaveLength(1)
    for (const c of sampleCommands) expect(producers(commandSubject(c))).toEqual(["orchestrator"])
  })

  it("lets each durable's app, and only it, dead-letter that durable's messages", () => {
    for (const c of orderTopology.consumers) {
      const owner = appNames.filter((app) => appAccess[app].consumes.some((o) => o.stream === c.stream && o.durable === c.durable))
      // The timer durable never dead-letters (a timer not yet due is nak'ed until it is, then
      // fired and acked), so nobody may publish a dead letter in its name.
      const expected = c.durable === Durables.orchestratorTimers ? [] : owner
      expect(publishersOf(deadLetterSubject(c.stream, c.durable)), c.durable).toEqual(expected)
    }
    for (const app of appNames) expect(publishersOf("dlq.orders.events.x"), app).not.toContain(app)
  })
})
