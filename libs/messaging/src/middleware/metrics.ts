import type { MetricsService, SettlementLabel } from "@conveyor/telemetry"
import { Duration, Effect } from "effect"
import type { Middleware } from "../middleware.js"
import type { Settlement } from "../outcome.js"

/** The metric's label for each settlement. */
const settlementLabelOf: { readonly [S in Settlement]: SettlementLabel } = {
  acked: "acked",
  duplicate: "duplicate",
  retried: "retried",
  "dead-lettered": "dead_lettered",
  deferred: "deferred",
  abandoned: "abandoned",
  "dead-letter-failed": "dead_letter_failed"
}

/**
 * Counts each delivery by what the broker was told (`conveyor_messages_processed_total`) and times
 * its handling, from the handler to the broker's answer (`conveyor_handler_duration_seconds`),
 * under the consumer's (durable) name.
 */
export const metrics =
  (service: MetricsService, consumer: string): Middleware =>
  (next) =>
  (delivery) =>
    Effect.suspend(() => {
      const start = performance.now()
      return Effect.flatMap(next(delivery), (result) =>
        Effect.zipRight(
          Effect.zipRight(service.recordHandlerDuration(consumer, Duration.millis(performance.now() - start)), service.messageProcessed(consumer, settlementLabelOf[result.settlement])),
          Effect.succeed(result)
        )
      )
    })
