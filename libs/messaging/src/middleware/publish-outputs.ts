import { Effect } from "effect"
import type { Publisher } from "../publisher.js"
import type { Middleware, Outcome } from "../step.js"

/**
 * Publishes what the handler produced (or, for a duplicate, produced the first time) before the
 * message is acked. Output ids derive from the input id, so a re-publish is dropped by the
 * stream. A failed publish defers the message: its outputs are already recorded, so the
 * redelivery publishes them without running the handler again.
 */
export const publishOutputs = (
  publisher: Publisher["Type"],
  options: { readonly retryDelayMs: number; readonly maxInFlight?: number }
): Middleware => (next) => (delivery) =>
  Effect.flatMap(next(delivery), (outcome) => {
    if ((outcome._tag !== "Processed" && outcome._tag !== "Duplicate") || outcome.outputs.length === 0) {
      return Effect.succeed(outcome)
    }
    return publisher.publishAll(outcome.outputs, { maxInFlight: options.maxInFlight ?? 32 }).pipe(
      Effect.as(outcome),
      Effect.catchAll((error) =>
        Effect.succeed<Outcome>({ _tag: "Deferred", delayMs: options.retryDelayMs, reason: `publishing outputs failed: ${error.message}` })
      )
    )
  })
