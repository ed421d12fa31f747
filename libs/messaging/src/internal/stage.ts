import type { Effect } from "effect"
import type { Delivery } from "../delivery.js"
import type { Outcome } from "../outcome.js"

/** Processes one delivery to its outcome; never fails (failures are outcomes). */
export type ProcessDelivery<R = never> = (delivery: Delivery) => Effect.Effect<Outcome, never, R>

/**
 * A built-in stage between the handler and the broker (outputs published, idempotency, heartbeat):
 * each must act before the broker is told, so it sees the outcome, not the settlement. The runner
 * composes them in a fixed order from its options; middlewares are the extension point.
 */
export type Stage<R = never> = <R0>(next: ProcessDelivery<R0>) => ProcessDelivery<R0 | R>
