import { Effect } from "effect"
import type { Publisher } from "../../publisher.js"
import { failed, type Outcome } from "../../outcome.js"
import type { Stage } from "../stage.js"

/**
 * Publishes what the handler produced (or, for a duplicate, produced the first time) before the
 * message is acked. Output ids derive from the input id, so a re-publish is dropped by the
 * stream. A failed publish leaves the message unacked: its outputs are already recorded, so the
 * redelivery publishes them without running the handler again. A transient failure (no PubAck,
 * target stream full) defers it without using up an attempt; one that waiting cannot fix (no
 * stream for the subject, permission) is retried and dead-lettered when the attempts run out, an
 * output too large for the stream at once.
 */
export interface PublishOutputsOptions {
  readonly publisher: Publisher["Type"]
  /** Delay before a delivery whose outputs could not be published for now is tried again. */
  readonly retryDelayMs: number
  /** PubAcks outstanding at once per delivery (default 32). */
  readonly maxInFlight?: number
}

export const publishOutputs = (options: PublishOutputsOptions): Stage => (next) => (delivery) =>
  Effect.flatMap(next(delivery), (outcome) => {
    if ((outcome._tag !== "Processed" && outcome._tag !== "Duplicate") || outcome.outputs.length === 0) return Effect.succeed(outcome)
    return options.publisher.publishAll(outcome.outputs, { maxInFlight: options.maxInFlight ?? 32 }).pipe(
      Effect.as(outcome),
      Effect.catchAll((error) =>
        Effect.succeed<Outcome>(
          error._tag === "StreamFull" || (error._tag === "PublishFailed" && error.retryable)
            ? { _tag: "Deferred", delayMs: options.retryDelayMs, reason: `publishing outputs failed: ${error.message}` }
            : failed(error._tag === "PayloadTooLarge" ? "dead-letter" : "retry", error._tag, `publishing outputs failed: ${error.message}`)
        )
      )
    )
  })
