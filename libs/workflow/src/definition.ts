import type { Either, Option, Schema } from "effect"
import type { IllegalTransition } from "./errors.js"
import type { PendingTimer, TimerFiring } from "./timer.js"
import type { Advance, Transition } from "./transition.js"

/** States are tagged so history and errors can name them without knowing the workflow. */
export interface TaggedState {
  readonly _tag: string
}

/** Events and commands are versioned messages with a `type`, as on the wire. */
export interface TypedMessage {
  readonly type: string
}

/**
 * A workflow is data plus two pure functions; the engine (`start`, `apply`) adds numbering, ids,
 * timers and history, and the runtime adds storage and messaging.
 */
export interface WorkflowDefinition<S extends TaggedState, E extends TypedMessage, C extends TypedMessage> {
  readonly name: string
  /** Schemas for persistence (state, outbox) and for decoding the events the workflow consumes. */
  readonly state: Schema.Schema<S, any>
  readonly event: Schema.Schema<E, any>
  readonly command: Schema.Schema<C, any>
  /** Which instance an event belongs to (the correlation key, e.g. the order id). */
  readonly workflowIdOf: (event: E) => string
  /** The first transition; events that cannot start an instance are illegal. */
  readonly start: (workflowId: string, event: E) => Either.Either<Advance<S, C>, IllegalTransition>
  readonly transition: (state: S, event: E) => Either.Either<Transition<S, C>, IllegalTransition>
  /** `Some` when the event is a timer firing, so the engine can drop stale ones before `transition`. */
  readonly timerOf: (event: E) => Option.Option<TimerFiring>
  /** The event the runtime publishes when `timer` is due (its message id should be `timer.timerId`). */
  readonly timerEvent: (timer: PendingTimer) => E
  /**
   * Whether `event` is one that starts instances (what `start` accepts). Optional: with it, the
   * runtime creates the instance of such an event without reading first, and reads only when it
   * turns out to exist (a duplicate or a redelivery).
   */
  readonly starts?: (event: E) => boolean
  /** History entries kept per instance (oldest dropped first), bounding the stored value. Default 100. */
  readonly historyLimit?: number
}

/** Identity, for inference at the definition site. */
export const defineWorkflow = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage>(
  definition: WorkflowDefinition<S, E, C>
): WorkflowDefinition<S, E, C> => definition
