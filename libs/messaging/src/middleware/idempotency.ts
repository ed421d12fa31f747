import { Effect } from "effect"
import type { IdempotencyStoreShape } from "../idempotency.js"
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
): Middleware => (next) => (delivery) =>
  Effect.gen(function* () {
    const key = `${options.keyPrefix}${delivery.messageId}`
    const claimed = yield* Effect.either(store.claim(key, options.leaseMs))
    if (claimed._tag === "Left") {
      return { _tag: "Deferred", delayMs: options.unavailableDelayMs, reason: `idempotency store unavailable: ${claimed.left.reason}` } satisfies Outcome
    }
    const result = claimed.right
    if (result._tag === "AlreadyDone") return { _tag: "Duplicate", outputs: result.outputs } satisfies Outcome
    if (result._tag === "HeldElsewhere") {
      return { _tag: "Deferred", delayMs: Math.max(options.minRetryMs ?? 100, result.retryInMs), reason: "another delivery holds the claim" } satisfies Outcome
    }
    const outcome = yield* next(delivery)
    if (outcome._tag === "Processed") {
      const committed = yield* Effect.either(store.complete(result.claim, outcome.outputs))
      if (committed._tag === "Left") {
        if (committed.left._tag === "ClaimLost") return { _tag: "LostOwnership" } satisfies Outcome
        // The effect happened but could not be recorded. Acking keeps it from running again via
        // this consumer; the record's lease expires on its own.
        yield* Effect.logWarning("idempotency record not written; acking anyway", { key, reason: committed.left.reason })
      }
      return outcome
    }
    if (outcome._tag === "Failed") yield* Effect.ignore(store.release(result.claim))
    // LostOwnership, or an interruption (shutdown grace elapsed), keeps the claim: the handler's
    // effect may still be under way, so a redelivery waits out the lease instead of racing it.
    return outcome
  })
