import type { ErrorHandling } from "./error-handling.js"
import type { OutgoingMessage } from "./outgoing.js"

/**
 * What handling one delivery decided (the handler, then idempotency, outputs, heartbeat), before the
 * broker is told: one of the two results, the other is the Settlement.
 */
export type Outcome =
  | { readonly _tag: "Processed"; readonly outputs: ReadonlyArray<OutgoingMessage> }
  /** Done before under this message id; `outputs` are what it produced then (re-published, de-duplicated). */
  | { readonly _tag: "Duplicate"; readonly outputs: ReadonlyArray<OutgoingMessage> }
  | { readonly _tag: "Failed"; readonly handling: ErrorHandling; readonly error: FailureInfo }
  /** Could not run now (claim held elsewhere, store unavailable): try later; not the message's fault. */
  | { readonly _tag: "Deferred"; readonly delayMs: number; readonly reason: string }
  /** Ack wait passed and another delivery may own the message: leave it alone. */
  | { readonly _tag: "LostOwnership" }

/** What the broker was told about a delivery, in a word; counted and traced by middlewares. */
export type Settlement = "acked" | "retried" | "deferred" | "dead-lettered" | "duplicate" | "abandoned" | "dead-letter-failed"

export interface FailureInfo {
  readonly tag: string
  readonly message: string
  /** The failure itself when there is one (a handler's error, a defect): its stack says where it happened. */
  readonly cause?: unknown
}

export const failed = (handling: ErrorHandling, tag: string, message: string, cause?: unknown): Outcome => ({
  _tag: "Failed",
  handling,
  error: cause === undefined ? { tag, message } : { tag, message, cause }
})
