import type { MetricsService, ProcessOutcome } from "@conveyor/telemetry"
import { Duration, Effect } from "effect"
import type { DeliveryInterceptor } from "../runner.js"
import type { Settlement } from "../settle.js"
import type { Middleware } from "../step.js"
import { andThen } from "../sync-first.js"

/** The metric's outcome label for each settlement. */
export const processOutcomeOf: { readonly [S in Settlement]: ProcessOutcome } = {
  acked: "acked",
  duplicate: "duplicate",
  retried: "retried",
  "dead-lettered": "dead_lettered",
  deferred: "deferred",
  abandoned: "abandoned",
  "dead-letter-failed": "dead_letter_failed"
}

/** Counts each settled delivery by outcome under the consumer's (durable) name. */
export const countSettlements =
  (metrics: MetricsService, consumer: string): DeliveryInterceptor =>
  (_delivery, process) =>
    andThen(process(), (settled) => Effect.as(metrics.messageProcessed(consumer, processOutcomeOf[settled.settlement]), settled))

/**
 * Times the steps it wraps into the handler-duration histogram. Placed innermost it measures the
 * handler alone (decode and handle), not idempotency claims or output publishing. The clock starts
 * before the inner step is called: a step does its synchronous part then (sync-first.ts).
 */
export const timeHandlerStep =
  (metrics: MetricsService, consumer: string): Middleware =>
  (next) =>
  (delivery) => {
    const start = performance.now()
    return andThen(next(delivery), (outcome) => Effect.as(metrics.recordHandlerDuration(consumer, Duration.millis(performance.now() - start)), outcome))
  }
