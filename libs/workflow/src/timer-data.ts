// The timer values of the model: what a transition asks (TimerRequest), a timer waiting to fire
// (PendingTimer) and what its firing event names (TimerFiring).
import { Data, Schema } from "effect"

/**
 * What a transition asks of the timer service. Timers are named per instance: setting a name that is
 * already pending supersedes it (the old firing becomes stale), so "restart the step's timeout" is
 * a single `SetTimer`.
 */
export type TimerRequest = Data.TaggedEnum<{
  SetTimer: { readonly name: string; readonly afterMs: number; readonly attempt: number }
  CancelTimer: { readonly name: string }
}>

const constructors = Data.taggedEnum<TimerRequest>()

export const TimerRequest = {
  ...constructors,
  /** Due `afterMs` after the transition's `now`; `attempt` travels with the firing for the definition. */
  set: (name: string, afterMs: number, attempt = 1): TimerRequest => constructors.SetTimer({ name, afterMs, attempt }),
  cancel: (name: string): TimerRequest => constructors.CancelTimer({ name })
}

/**
 * A timer waiting to fire. It carries its workflow id so the runtime can keep it, on its own, in a
 * timers KV bucket keyed by `timerId` and still know whom to wake after a restart.
 */
export const PendingTimer = Schema.Struct({
  workflowId: Schema.String,
  name: Schema.String,
  timerId: Schema.String,
  /** Epoch milliseconds. */
  dueAt: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  attempt: Schema.Number.pipe(Schema.int(), Schema.positive()),
  /**
   * W3C `traceparent` of the transition that set the timer (set by the runtime): the firing event
   * continues that trace instead of starting a new one.
   */
  traceparent: Schema.optional(Schema.String)
})
export type PendingTimer = typeof PendingTimer.Type

/** A pending timer as JSON text, e.g. a timers KV value. */
export const PendingTimerJson = Schema.parseJson(PendingTimer)

/** Identifies the timer a firing event refers to; the engine drops firings whose id is no longer pending. */
export interface TimerFiring {
  readonly name: string
  readonly timerId: string
}
