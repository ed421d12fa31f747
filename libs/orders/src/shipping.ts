import { defineHandler } from "@conveyor/messaging"
import { NatsConnection, runJetStreamConsumer } from "@conveyor/nats"
import { openJsonBucket, plainJson, type JsonBucket } from "@conveyor/orchestration"
import { Buckets, Durables, eventSubject, OrderCommandMessage, ShipmentRecalled, ShipmentScheduled } from "@conveyor/domain"
import { Effect, Layer, Schema } from "effect"
import { UnexpectedCommand } from "./inventory.js"
import { ConsumerConfig, consumerSpec, workerOptions, checkedWhenSent } from "./consumers.js"
import { modifyExpectingNew } from "./step-store.js"

/** The tracking id is derived from the order, so scheduling twice books the same shipment. */
export const trackingIdOf = (orderId: string): string => `trk-${orderId}`.slice(0, 64)

/**
 * The shipment of one order. `recalled` is also the tombstone a recall leaves when nothing was
 * scheduled, so a ScheduleShipment the workflow abandoned that arrives later ships nothing.
 */
export const Shipment = Schema.Struct({
  status: Schema.Literal("scheduled", "recalled"),
  /** The shipment booked (and, when recalled, cancelled); absent for a tombstone. */
  trackingId: Schema.optional(Schema.String)
})
export type Shipment = typeof Shipment.Type

export const shipmentKey = (orderId: string): string => `order.${orderId}`

/** Pure: book the order's shipment once; refused (undefined) once the order's shipment was recalled. */
export const schedule = (entry: Shipment | undefined, orderId: string): { next?: Shipment; result: Shipment } => {
  if (entry !== undefined) return { result: entry }
  const next: Shipment = { status: "scheduled", trackingId: trackingIdOf(orderId) }
  return { next, result: next }
}

/** Pure: cancel the order's shipment if one was booked, and in any case close the order to later bookings. */
export const recall = (entry: Shipment | undefined): { next?: Shipment; result: Shipment } => {
  if (entry?.status === "recalled") return { result: entry }
  const next: Shipment = { ...entry, status: "recalled" }
  return { next, result: next }
}

export const shippingHandler = (shipments: JsonBucket<Shipment>) =>
  defineHandler({
    schema: OrderCommandMessage,
    handle: (command, ctx) =>
      Effect.gen(function* () {
        if (command.type === "ScheduleShipment") {
          const entry = yield* modifyExpectingNew(shipments, shipmentKey(command.orderId), (e) => schedule(e, command.orderId))
          if (entry.status === "recalled") {
            // The workflow gave up on this step and recalled it: an abandoned attempt, answered by nobody.
            yield* Effect.logInfo("ScheduleShipment refused: the order's shipment was recalled").pipe(
              Effect.annotateLogs({ orderId: command.orderId, attempt: command.attempt })
            )
            return []
          }
          return [yield* ctx.message(ShipmentScheduled, eventSubject("ShipmentScheduled"),
            ShipmentScheduled.make({ orderId: command.orderId, trackingId: entry.trackingId! }, checkedWhenSent), "scheduled")]
        }
        if (command.type === "RecallShipment") {
          const entry = yield* shipments.modify(shipmentKey(command.orderId), recall)
          return [yield* ctx.message(ShipmentRecalled, eventSubject("ShipmentRecalled"),
            ShipmentRecalled.make({ orderId: command.orderId, ...(entry.trackingId === undefined ? {} : { trackingId: entry.trackingId }) }, checkedWhenSent),
            "recalled")]
        }
        return yield* new UnexpectedCommand({ worker: "shipping-worker", type: command.type })
      }),
    errors: { KvUnavailable: "retry", CorruptEntry: "dead-letter", EncodeError: "dead-letter", UnexpectedCommand: "dead-letter" }
  })

export const openShipments = Effect.flatMap(NatsConnection, (client) => openJsonBucket(client, Buckets.shipments, Shipment, { encode: plainJson }))

/** The shipping worker: ScheduleShipment and RecallShipment, once per order. */
export const ShippingWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* ConsumerConfig
    yield* runJetStreamConsumer(shippingHandler(yield* openShipments), {
      consumer: consumerSpec(Durables.shipping),
      retry: config.retry,
      concurrency: config.concurrency,
      handlerTimeoutMs: config.handlerTimeoutMs,
      ...(yield* workerOptions(Durables.shipping))
    })
  })
)
