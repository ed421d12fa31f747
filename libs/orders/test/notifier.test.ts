import { eventually } from "@conveyor/testing"
import { Durables, encodeEvent, eventSubject, OrderCompleted, StockReserved, StreamNames } from "@conveyor/domain"
import { replaySubjectOf } from "@conveyor/topology"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { useNatsServer } from "@conveyor/testing/vitest"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Notifications, NotifierLive } from "../src/index.js"
import { startStack } from "./support.js"

const server = useNatsServer()
let stack: Awaited<ReturnType<typeof startStack>>
let nc: NatsConnection
beforeAll(async () => {
  stack = await startStack(server.url, {}, NotifierLive, undefined, "notifier")
  nc = await connect({ servers: server.url })
}, 60_000)
afterAll(async () => {
  await stack?.close()
  await nc?.close()
})

describe("the notifier", () => {
  it("notifies each outcome once and acks, unread, another event that still reaches it (no dead letter)", async () => {
    const js = jetstream(nc)
    // On its durable's subjects: an outcome, and (through its replay subject, the one way left)
    // an event that is not one, as a message it held before its filters were narrowed would be.
    await js.publish(replaySubjectOf(StreamNames.events, Durables.notifier), encodeEvent(StockReserved.make({ orderId: "n-1" })), { msgID: "n-1-reserved" })
    await js.publish(eventSubject("OrderCompleted"), encodeEvent(OrderCompleted.make({ orderId: "n-1", paymentId: "p-1", trackingId: "t-1" })), { msgID: "n-1-completed" })
    // Not on its subjects: never delivered to it.
    await js.publish(eventSubject("StockReserved"), encodeEvent(StockReserved.make({ orderId: "n-2" })), { msgID: "n-2-reserved" })
    const jsm = await jetstreamManager(nc)
    await eventually(async () => {
      const info = await jsm.consumers.info(StreamNames.events, Durables.notifier)
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.consumer_seq === 2
    }, 15_000, "the notifier to have settled both")
    const notifications = await stack.runtime.runPromise(Notifications)
    expect(notifications.counts()).toEqual({ OrderCompleted: 1 })
    expect((await jsm.streams.info(StreamNames.deadLetters, { subjects_filter: ">" })).state.subjects ?? {}).toEqual({})
  })
})
