import { Effect } from "effect"
import type { Claim, IdempotencyStoreShape } from "../idempotency.js"
import type { Middleware, Outcome } from "../step.js"

/**
 * Runs the inner step at most once per message id: claims the id with a lease (two deliveries of
 * one id never run together), records the outputs on success, releases the claim on failure.
 * A done id short-circuits to Duplicate; an unavailable store defers the message (never runs the
 * handler unprotected).
 */
export const idempotency = (
  store: IdempotencyStoreShape,
  options: {
    readonly leaseMs: number
    readonly unavailableDelayMs: number
    readonly keyPrefix: string
    /** Floor for the delay when another delivery holds the claim (default 100 ms). */
    readonly minRetryMs?: number
  }
): Middleware => (next) => (delivery) => {
  const key = `${options.keyPrefix}${delivery.messageId}`
  // Plain flatMaps rather than a generator, whose steps cost a measurable share per message.
  const afterRun = (claim: Claim, outcome: Outcome): Effect.Effect<Outcome> => {
    if (outcome._tag === "Processed") {
      return Effect.matchEffect(store.complete(claim, outcome.outputs), {
        onSuccess: () => Effect.succeed(outcome),
        onFailure: (e) =>
          e._tag === "ClaimLost"
            ? Effect.succeed<Outcome>({ _tag: "LostOwnership" })
            : // The effect happened but could not be recorded. Acking keeps it from running again via
              // this consumer; the record's lease expires on its own.
              Effect.as(Effect.logWarning("idempotency record not written; acking anyway", { key, reason: e.reason }), outcome)
      })
    }
    if (outcome._tag === "Failed") return Effect.as(Effect.ignore(store.release(claim)), outcome)
    // LostOwnership, or an interruption (shutdown grace elapsed), keeps the claim: the handler's
    // effect may still be under way, so a redelivery waits out the lease instead of racing it.
    return Effect.succeed(outcome)
  }
  return Effect.matchEffect(store.claim(key, options.leaseMs), {
    onFailure: (e) =>
      Effect.succeed<Outcome>({ _tag: "Deferred", delayMs: options.unavailableDelayMs, reason: `idempotency store unavailable: ${e.reason}` }),
    onSuccess: (result) => {
      if (result._tag === "AlreadyDone") return Effect.succeed<Outcome>({ _tag: "Duplicate", outputs: result.outputs })
      if (result._tag === "HeldElsewhere") {
        return Effect.succeed<Outcome>({ _tag: "Deferred", delayMs: Math.max(options.minRetryMs ?? 100, result.retryInMs), reason: "another delivery holds the claim" })
      }
      return Effect.flatMap(next(delivery), (outcome) => afterRun(result.claim, outcome))
    }
  })
}
