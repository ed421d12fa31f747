import { Effect, Schedule } from "effect"
import type { Delivery } from "../../delivery.js"
import type { Claim, IdempotencyStoreShape } from "../../idempotency.js"
import type { OutgoingMessage } from "../../outgoing.js"
import type { Outcome } from "../../outcome.js"
import type { Stage } from "../stage.js"

/**
 * Runs the inner step at most once per message id: claims the id with a lease (two deliveries of
 * one id never run together), records the outputs on success, releases the claim on failure.
 * A done id short-circuits to Duplicate; an unavailable store defers the message (never runs the
 * handler unprotected).
 *
 * When the record cannot be completed after the effect happened (the store is unreachable), the
 * write is retried with the claim's token, keeping the message with `working()`, until it lands,
 * the claim is lost, or the delivery is interrupted (shutdown): acking first would leave the
 * record pending, so a later delivery of the id would wait out the lease and then run again, and
 * giving the message back would do the same. Only a crash or an interruption here leaves the
 * claim pending: its lease then expires and the redelivery runs the handler again.
 */
export interface IdempotencyOptions {
  readonly store: IdempotencyStoreShape
  readonly leaseMs: number
  readonly unavailableDelayMs: number
  readonly keyPrefix: string
  /** Floor for the delay when another delivery holds the claim (default 100 ms). */
  readonly minRetryMs?: number
}

export const idempotency = (options: IdempotencyOptions): Stage => (next) => (delivery) => {
  const store = options.store
  const key = `${options.keyPrefix}${delivery.messageId}`
  // Plain flatMaps rather than a generator, whose steps cost a measurable share per message.
  const afterRun = (claim: Claim, outcome: Outcome): Effect.Effect<Outcome> => {
    if (outcome._tag === "Processed") {
      return Effect.matchEffect(store.complete(claim, outcome.outputs), {
        onSuccess: () => Effect.succeed(outcome),
        onFailure: (e) =>
          e._tag === "ClaimLost"
            ? Effect.succeed<Outcome>({ _tag: "LostOwnership" })
            : Effect.zipRight(
                Effect.logWarning("idempotency record not written; retrying before the ack", { key, reason: e.reason }),
                completeUntilWritten(store, claim, outcome.outputs, delivery, options)
              ).pipe(Effect.map((written) => (written ? outcome : { _tag: "LostOwnership" } as const)))
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

/**
 * Retries completing the record with the claim's token until it is written (true) or the claim
 * was taken over (false), sending `working()` every half lease so the message stays with us.
 */
const completeUntilWritten = (
  store: IdempotencyStoreShape,
  claim: Claim,
  outputs: ReadonlyArray<OutgoingMessage>,
  delivery: Delivery,
  options: { readonly leaseMs: number; readonly unavailableDelayMs: number }
): Effect.Effect<boolean> => {
  const backoff = Schedule.exponential(Math.max(10, options.unavailableDelayMs)).pipe(
    Schedule.union(Schedule.spaced(Math.max(100, Math.min(5_000, options.leaseMs / 4))))
  )
  const keepMessage = Effect.forever(Effect.zipRight(Effect.sleep(Math.max(100, options.leaseMs / 2)), delivery.working))
  return Effect.suspend(() => store.complete(claim, outputs)).pipe(
    Effect.retry({ schedule: backoff, while: (e) => e._tag === "StoreUnavailable" }),
    // Retried while unavailable: the only failure left is ClaimLost (another delivery took the id over).
    Effect.match({ onSuccess: () => true, onFailure: () => false }),
    Effect.tap((written) => (written ? Effect.logInfo("idempotency record written after retrying", { key: claim.key }) : Effect.void)),
    Effect.raceFirst(keepMessage)
  )
}
