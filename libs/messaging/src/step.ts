import type { Effect } from "effect"
import type { Disposition } from "./disposition.js"
import type { Delivery } from "./delivery.js"
import type { OutgoingMessage } from "./outgoing.js"

/** What processing one delivery came to, before the broker is told. */
export type Outcome =
  | { readonly _tag: "Processed"; readonly outputs: ReadonlyArray<OutgoingMessage> }
  /** Done before under this message id; `outputs` are what it produced then (re-published, de-duplicated). */
  | { readonly _tag: "Duplicate"; readonly outputs: ReadonlyArray<OutgoingMessage> }
  | { readonly _tag: "Failed"; readonly disposition: Disposition; readonly error: FailureInfo }
  /** Could not run now (claim held elsewhere, store unavailable): try later; not the message's fault. */
  | { readonly _tag: "Deferred"; readonly delayMs: number; readonly reason: string }
  /** Ack wait passed and another delivery may own the message: leave it alone. */
  | { readonly _tag: "LostOwnership" }

export interface FailureInfo {
  readonly tag: string
  readonly message: string
  /** The failure itself when there is one (a handler's error, a defect): its stack says where it happened. */
  readonly cause?: unknown
}

/** Processes one delivery to an outcome; never fails (failures are outcomes). */
export type Step<R = never> = (delivery: Delivery) => Effect.Effect<Outcome, never, R>

/**
 * Wraps a step with one concern (retry, dedupe, heartbeat, tracing...). Middlewares compose
 * outermost first, as in Watermill's router.
 */
export type Middleware<R = never> = <R0>(next: Step<R0>) => Step<R0 | R>

export const failed = (disposition: Disposition, tag: string, message: string, cause?: unknown): Outcome => ({
  _tag: "Failed",
  disposition,
  error: cause === undefined ? { tag, message } : { tag, message, cause }
})
