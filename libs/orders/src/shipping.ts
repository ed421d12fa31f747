import { defineHandler, type EncodeError, type OutgoingMessage } from "@conveyor/messaging"
import { runJetStreamConsumer } from "@conveyor/nats"
import { Durables, eventSubject, OrderCommandMessage, ShipmentScheduled } from "@conveyor/domain"
import { Effect, Layer } from "effect"
import { UnexpectedCommand } from "./inventory.js"
import { ConsumerConfig, consumerSpec, openIdempotency } from "./runtime.js"
import { settlementRecorder } from "./settlements.js"

/** The tracking id is derived from the order, so scheduling twice books the same shipment. */
export const trackingIdOf = (orderId: string): string => `trk-${orderId}`.slice(0, 64)

export const shippingHandler = defineHandler({
  schema: OrderCommandMessage,
  handle: (command, ctx): Effect.Effect<ReadonlyArray<OutgoingMessage>, EncodeError | UnexpectedCommand> =>
    command.type === "ScheduleShipment"
      ? Effect.map(
          ctx.message(ShipmentScheduled, eventSubject("ShipmentScheduled"),
            ShipmentScheduled.make({ orderId: command.orderId, trackingId: trackingIdOf(command.orderId) }), "scheduled"),
          (m) => [m]
        )
      : Effect.fail(new UnexpectedCommand({ worker: "shipping-worker", type: command.type })),
  errors: { EncodeError: "dead-letter", UnexpectedCommand: "dead-letter" }
})

/** The shipping worker: ScheduleShipment. */
export const ShippingWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* ConsumerConfig
    yield* runJetStreamConsumer(shippingHandler, {
      consumer: consumerSpec(Durables.shipping),
      retry: config.retry,
      concurrency: config.concurrency,
      handlerTimeoutMs: config.handlerTimeoutMs,
      idempotency: yield* openIdempotency,
      onSettled: yield* settlementRecorder(Durables.shipping)
    })
  })
)
