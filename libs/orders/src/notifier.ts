import { defineHandler } from "@conveyor/messaging"
import { runJetStreamConsumer } from "@conveyor/nats"
import { Durables, OrderEventMessage, type OrderEventType } from "@conveyor/domain"
import { Config, Context, Effect, Layer } from "effect"
import { ConsumerConfig, consumerSpec, consumerTelemetry, idempotentAcks, openIdempotency } from "./consumers.js"

/** Notifications sent, by event type; what a real notifier would e-mail, here counted and logged. */
export class Notifications extends Context.Tag("@conveyor/orders/Notifications")<
  Notifications,
  {
    readonly counts: () => Readonly<Partial<Record<OrderEventType, number>>>
    readonly total: () => number
    /**
     * Calls `listener` for every outcome notification (OrderCompleted, OrderCancelled) from now on,
     * so a caller can count its own orders on a notifier that serves others too; returns the unsubscribe.
     */
    readonly onOutcome: (listener: (orderId: string) => void) => () => void
  }
>() {}

/**
 * The notifier: its own durable on every order event (publish-subscribe, independent of the
 * orchestrator's), one notification per event message id. Environment: `NOTIFIER_IDEMPOTENCY`
 * (default true; false trades exactly-once notifications for fewer KV writes).
 */
export const NotifierLive = Layer.scoped(
  Notifications,
  Effect.gen(function* () {
    const config = yield* ConsumerConfig
    const dedupe = yield* Config.boolean("NOTIFIER_IDEMPOTENCY").pipe(Config.withDefault(true))
    const counts = new Map<OrderEventType, number>()
    const outcomeListeners = new Set<(orderId: string) => void>()
    const handler = defineHandler({
      schema: OrderEventMessage,
      handle: (event) =>
        Effect.sync(() => void counts.set(event.type, (counts.get(event.type) ?? 0) + 1)).pipe(
          Effect.zipRight(
            event.type === "OrderCompleted" || event.type === "OrderCancelled"
              ? Effect.sync(() => outcomeListeners.forEach((listener) => listener(event.orderId))).pipe(
                  Effect.zipRight(Effect.logDebug(`notify customer: order ${event.orderId} ${event.type === "OrderCompleted" ? "completed" : "cancelled"}`))
                )
              : Effect.void
          )
        ),
      errors: {}
    })
    yield* runJetStreamConsumer(handler, {
      consumer: consumerSpec(Durables.notifier),
      retry: config.retry,
      concurrency: config.concurrency,
      handlerTimeoutMs: config.handlerTimeoutMs,
      ...idempotentAcks,
      ...(dedupe ? { idempotency: yield* openIdempotency(Durables.notifier) } : {}),
      ...(yield* consumerTelemetry(Durables.notifier))
    })
    return {
      counts: () => Object.fromEntries(counts),
      total: () => [...counts.values()].reduce((a, b) => a + b, 0),
      onOutcome: (listener) => {
        outcomeListeners.add(listener)
        return () => void outcomeListeners.delete(listener)
      }
    }
  })
)
