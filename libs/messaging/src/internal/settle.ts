import { Effect } from "effect"
import { decide } from "./decide.js"
import type { DeadLetterSink } from "../dead-letter.js"
import type { Delivery } from "../delivery.js"
import { backoffDelay, type RetryPolicy } from "../retry-policy.js"
import type { DeliveryResult } from "../middleware.js"
import type { Outcome, Settlement } from "../outcome.js"

/**
 * Tells the broker: the pure `decide` picks the action, this carries it out. A dead letter is
 * copied to the sink first and the original terminated only after the copy is stored; if the copy
 * fails the original is nak'ed, never dropped.
 */
export const settle = (
  delivery: Delivery,
  outcome: Outcome,
  policy: RetryPolicy,
  sink: DeadLetterSink["Type"] | undefined
): Effect.Effect<DeliveryResult> => {
  const instruction = decide(outcome, delivery.deliveryCount, policy, Math.random())
  const done = (settlement: Settlement): Effect.Effect<DeliveryResult> => Effect.succeed({ outcome, instruction, settlement })
  switch (instruction._tag) {
    case "Ack":
      if (delivery.ackNow?.() === true) return done(outcome._tag === "Duplicate" ? "duplicate" : "acked")
      return delivery.ack.pipe(
        Effect.catchAll((e) => Effect.logWarning("ack not confirmed; the message may be redelivered", { messageId: e.messageId, reason: e.reason })),
        Effect.zipRight(done(outcome._tag === "Duplicate" ? "duplicate" : "acked"))
      )
    case "Nak":
      return delivery.nak(instruction.delayMs).pipe(Effect.zipRight(done(outcome._tag === "Deferred" ? "deferred" : "retried")))
    case "Abandon":
      return done("abandoned")
    case "DeadLetter": {
      if (sink === undefined) {
        return delivery.term(`${instruction.reason}: ${instruction.error.tag}: ${instruction.error.message}`.slice(0, 256)).pipe(Effect.zipRight(done("dead-lettered")))
      }
      return sink.send({ delivery, reason: instruction.reason, error: instruction.error }).pipe(
        Effect.zipRight(delivery.term(`dead-lettered: ${instruction.error.tag}`)),
        Effect.zipRight(done("dead-lettered")),
        Effect.catchAll((e) =>
          Effect.logError("dead-letter copy failed; nak'ing so nothing is lost", { messageId: delivery.messageId, reason: e.reason }).pipe(
            // Backing off like a retry: a dead-letter stream that is down or full stays so for a
            // while, and a fixed short delay would cycle every poison message through the runner.
            Effect.zipRight(delivery.nak(backoffDelay(policy, delivery.deliveryCount, Math.random()))),
            Effect.zipRight(done("dead-letter-failed"))
          )
        )
      )
    }
  }
}
