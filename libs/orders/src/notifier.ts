import { defineHandler } from "@conveyor/messaging"
import { runJetStreamConsumer } from "@conveyor/nats"
import { Durables, OrderEventMessage, type OrderOutcome } from "@conveyor/domain"
import { Config, Context, Effect, Layer } from "effect"
import { ConsumerConfig, consumerSpec, consumerTelemetry, idempotentAcks, openIdempotency } from "./consumers.js"

/** Notifications sent, by outcome; what a real notifier would e-mail, here counted and logged. */
export class Notifications extends Context.Tag("@conveyor/orders/Notifications")<
  Notifications,
  {
    readonly counts: () => Readonly<Partial<Record<OrderOutcome["type"], number>>>
    readonly total: () => number
    /**
     * Calls `listener` for every notification from now on, so a caller can count its own orders on
     * a notifier that serves others too; returns the unsubscribe.
     */
    readonly onOutcome: (listener: (orderId: string) => void) => () => void
  }
>() {}

/**
 * The notifier: its own durable on the order's outcome events (publish-subscribe, independent of
 * the orchestrator's), so one customer notification per order, once per message id. Environment:
 * `NOTIFIER_IDEMPOTENCY` (default true; false trades exactly-once notifications for fewer KV writes).
 */
export const NotifierLive = Layer.scoped(
  Notifications,
  Effect.gen(function* () {
    const config = yield* ConsumerConfig
    const dedupe = yield* Config.boolean("NOTIFIER_IDEMPOTENCY").pipe(Config.withDefault(true))
    const counts = new Map<OrderOutcome["type"], number>()
    const outcomeListeners = new Set<(orderId: string) => void>()
    const notify = (outcome: OrderOutcome) =>
      Effect.sync(() => {
        counts.set(outcome.type, (counts.get(outcome.type) ?? 0) + 1)
        outcomeListeners.forEach((listener) => listener(outcome.orderId))
      }).pipe(Effect.zipRight(Effect.logDebug(`notify customer: order ${outcome.orderId} ${outcome.type === "OrderCompleted" ? "completed" : "cancelled"}`)))
    const handler = defineHandler({
      schema: OrderEventMessage,
      // Its durable takes only the outcomes. Another event can still come: one it held unacked
      // when its filters were narrowed (a durable deployed before took every event): acked unread.
      handle: (event) => (event.type === "OrderCompleted" || event.type === "OrderCancelled" ? notify(event) : Effect.void),
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
