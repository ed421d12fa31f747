import { Effect } from "effect"
import { decide, type Action } from "./decide.js"
import type { DeadLetterSink } from "./dead-letter.js"
import type { Delivery } from "./delivery.js"
import { backoffDelay, type RetryPolicy } from "./retry-policy.js"
import type { Outcome } from "./step.js"

/** What the runner did with a delivery; counted and traced by callers. */
export type Settlement = "acked" | "retried" | "deferred" | "dead-lettered" | "duplicate" | "abandoned" | "dead-letter-failed"

/** What became of one delivery: its outcome and what the broker was told. */
export interface Settled {
  readonly outcome: Outcome
  readonly action: Action
  readonly settlement: Settlement
}

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
): Effect.Effect<Settled> => {
  const action = decide(outcome, delivery.deliveryCount, policy, Math.random())
  // An Exit, not a new Effect: a settlement that needed no reply stays synchronous (sync-first.ts).
  const done = (settlement: Settlement): Effect.Effect<Settled> => Effect.succeed({ outcome, action, settlement })
  switch (action._tag) {
    case "Ack":
      if (delivery.ackNow?.() === true) return done(outcome._tag === "Duplicate" ? "duplicate" : "acked")
      return delivery.ack.pipe(
        Effect.catchAll((e) => Effect.logWarning("ack not confirmed; the message may be redelivered", { messageId: e.messageId, reason: e.reason })),
        Effect.zipRight(done(outcome._tag === "Duplicate" ? "duplicate" : "acked"))
      )
    case "Nak":
      return delivery.nak(action.delayMs).pipe(Effect.zipRight(done(outcome._tag === "Deferred" ? "deferred" : "retried")))
    case "Abandon":
      return done("abandoned")
    case "DeadLetter": {
      if (sink === undefined) {
        return delivery.term(`${action.reason}: ${action.error.tag}: ${action.error.message}`.slice(0, 256)).pipe(Effect.zipRight(done("dead-lettered")))
      }
      return sink.send({ delivery, reason: action.reason, error: action.error }).pipe(
        Effect.zipRight(delivery.term(`dead-lettered: ${action.error.tag}`)),
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
