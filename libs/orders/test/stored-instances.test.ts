import { eventually } from "@conveyor/testing"
import { Buckets, encodeEvent, eventSubject, OrderPlaced, orderWorkflow, PaymentCaptured, ShipmentScheduled, StockReserved, StreamNames } from "@conveyor/domain"
import { apply, instanceEncoder, start } from "@conveyor/workflow"
import { Kvm } from "@nats-io/kv"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { OrchestratorLive } from "../src/index.js"
import { startStack } from "./support.js"

// Instances stored before the workflow's outcome events were told apart from its commands: history
// entries list the outcome among their commands, outbox entries are `{ id, message }`. An upgraded
// orchestrator must finish them and publish their outbox where the previous version did.
const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
let nc: NatsConnection
beforeAll(async () => {
  stack = await startStack(server.url, {}, OrchestratorLive)
  nc = await connect({ servers: server.url })
}, 60_000)
afterAll(async () => {
  await stack?.close()
  await nc?.close()
})

const T0 = Date.parse("2026-01-01T10:00:00Z")
const encode = instanceEncoder(orderWorkflow)

/** The JSON the previous version stored for `instance`. */
const asStoredBefore = (json: Record<string, any>) => ({
  ...json,
  history: json["history"].map(({ commands, events, ...entry }: Record<string, Array<unknown>>) => ({ ...entry, commands: [...commands!, ...events!] })),
  outbox: json["outbox"].map(({ kind: _kind, ...entry }: Record<string, unknown>) => entry)
})

/** Places `orderId` and applies `answers` (each with message id `<orderId>-<type>`), as the previous orchestrator would have. */
const drive = (orderId: string, answers: ReadonlyArray<Parameters<typeof apply<any, any, any, any>>[2]>) => {
  const placed = OrderPlaced.make({
    orderId, customerId: "c-1", items: [{ sku: "sku-1", quantity: 1, unitPriceCents: 399 }], totalCents: 399, placedAt: "2026-01-01T10:00:00Z"
  })
  return answers.reduce((i, event, n) => {
    const r = Either.getOrThrow(apply(orderWorkflow, i, event, T0 + (n + 1) * 1_000, { causationId: `${orderId}-${event.type}` }))
    if (r._tag !== "Advanced") throw new Error(`expected ${event.type} to advance`)
    return r.instance
  }, Either.getOrThrow(start(orderWorkflow, placed, T0, { causationId: `${orderId}-OrderPlaced` })).instance)
}

const store = async (orderId: string, json: unknown) => (await new Kvm(nc).open(Buckets.workflows)).put(orderId, JSON.stringify(json))
const stored = async (orderId: string) => (await (await new Kvm(nc).open(Buckets.workflows)).get(orderId))!.json<Record<string, any>>()
const lastOn = async (subject: string) => {
  const m = await (await jetstreamManager(nc)).streams.getMessage(StreamNames.events, { last_by_subj: subject }).catch(() => null)
  return m === null ? undefined : { id: m.header.get("Nats-Msg-Id"), event: m.json<Record<string, unknown>>() }
}
const completedSubject = eventSubject("OrderCompleted")

describe("instances stored by the previous version", () => {
  it("an order in flight is finished: its outcome goes out as an event on its subject, under the id the previous version would have used", async () => {
    const orderId = "up-1"
    const reserved = StockReserved.make({ orderId })
    const captured = PaymentCaptured.make({ orderId, paymentId: "p-1", amountCents: 399 })
    await store(orderId, asStoredBefore(JSON.parse(encode(drive(orderId, [reserved, captured])))))
    await jetstream(nc).publish(eventSubject("ShipmentScheduled"), encodeEvent(ShipmentScheduled.make({ orderId, trackingId: "t-1" })), { msgID: `${orderId}-shipped` })
    const outcome = await eventually(async () => (await lastOn(completedSubject))?.event["orderId"] === orderId ? lastOn(completedSubject) : undefined, 20_000, "OrderCompleted")
    expect(outcome).toEqual({ id: `${orderId}:4:0`, event: { type: "OrderCompleted", version: 1, orderId, paymentId: "p-1", trackingId: "t-1" } })
    const finished = await eventually(async () => ((await stored(orderId)).outbox.length === 0 ? stored(orderId) : undefined), 10_000, "the outbox to be cleared")
    expect(finished["state"]["_tag"]).toBe("Completed")
    // The old entries keep what they listed (with no events); the new one says what it emitted.
    expect(finished["history"].map((h: Record<string, unknown>) => [h["commands"], h["events"]])).toEqual([
      [[{ id: `${orderId}:1:0`, type: "ReserveStock" }], []],
      [[{ id: `${orderId}:2:0`, type: "CapturePayment" }], []],
      [[{ id: `${orderId}:3:0`, type: "ScheduleShipment" }], []],
      [[], [{ id: `${orderId}:4:0`, type: "OrderCompleted" }]]
    ])
  })

  it("a finished order whose outbox still holds its OrderCompleted (killed before clearing it) publishes it on the event subject when its last event is redelivered", async () => {
    const orderId = "up-2"
    const finished = drive(orderId, [
      StockReserved.make({ orderId }), PaymentCaptured.make({ orderId, paymentId: "p-2", amountCents: 399 }), ShipmentScheduled.make({ orderId, trackingId: "t-2" })
    ])
    const old = asStoredBefore(JSON.parse(encode({ ...finished, outbox: finished.outbox.slice(-1) })))
    expect(old.outbox).toEqual([{ id: `${orderId}:4:0`, message: { type: "OrderCompleted", version: 1, orderId, paymentId: "p-2", trackingId: "t-2" } }])
    await store(orderId, old)
    // The redelivery of the event that finished it (found in its history by message id).
    await jetstream(nc).publish(eventSubject("ShipmentScheduled"), encodeEvent(ShipmentScheduled.make({ orderId, trackingId: "t-2" })), { msgID: `${orderId}-ShipmentScheduled` })
    const outcome = await eventually(async () => (await lastOn(completedSubject))?.event["orderId"] === orderId ? lastOn(completedSubject) : undefined, 20_000, "OrderCompleted")
    expect(outcome).toEqual({ id: `${orderId}:4:0`, event: { type: "OrderCompleted", version: 1, orderId, paymentId: "p-2", trackingId: "t-2" } })
    await eventually(async () => (await stored(orderId)).outbox.length === 0, 10_000, "the outbox to be cleared")
  })
})
