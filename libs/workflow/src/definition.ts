// A workflow as data: its definition (states, events, transitions), what a transition returns, and
// the stored instance (state, history, outbox, timers).
import { type Either, type Option, Schema } from "effect"
import type { IllegalTransition } from "./errors.js"
import { PendingTimer, type TimerFiring, type TimerRequest } from "./timer.js"

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

/** The instance moves on: a new state, messages to emit, timers to set or cancel. */
export interface Advance<S, C> {
  readonly _tag: "Advance"
  readonly state: S
  readonly commands: ReadonlyArray<C>
  readonly timers: ReadonlyArray<TimerRequest>
  /** A terminal instance accepts no further advances; the engine cancels its remaining timers. */
  readonly terminal: boolean
}

/**
 * The event is understood but changes nothing, e.g. a duplicate answer for a step already done.
 * Distinct from an illegal transition so at-least-once delivery never dead-letters a harmless repeat.
 */
export interface Ignore {
  readonly _tag: "Ignore"
  readonly reason: string
}

export type Transition<S, C> = Advance<S, C> | Ignore

export const Transition = {
  advance: <S, C = never>(
    state: S,
    options: {
      readonly commands?: ReadonlyArray<C>
      readonly timers?: ReadonlyArray<TimerRequest>
      readonly terminal?: boolean
    } = {}
  ): Advance<S, C> => ({
    _tag: "Advance",
    state,
    commands: options.commands ?? [],
    timers: options.timers ?? [],
    terminal: options.terminal ?? false
  }),
  ignore: (reason: string): Ignore => ({ _tag: "Ignore", reason }),
  isAdvance: <S, C>(t: Transition<S, C>): t is Advance<S, C> => t._tag === "Advance",
  isIgnore: <S, C>(t: Transition<S, C>): t is Ignore => t._tag === "Ignore"
}

const EpochMillis = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Sequence = Schema.Number.pipe(Schema.int(), Schema.positive())

/** A command (or outgoing event) with the message id it must be published under. */
export interface Outgoing<C> {
  readonly id: string
  readonly message: C
}

/** One applied transition, kept for operators (`GET /orders/:id`, the CLI). */
export const HistoryEntry = Schema.Struct({
  seq: Sequence,
  event: Schema.String,
  /** Absent for the transition that started the instance. */
  from: Schema.optional(Schema.String),
  to: Schema.String,
  at: EpochMillis,
  /** Message id of the event that caused it, when the runtime supplied one. */
  causationId: Schema.optional(Schema.String),
  /** Trace id of that event, when it carried trace context. */
  traceId: Schema.optional(Schema.String),
  commands: Schema.Array(Schema.Struct({ id: Schema.String, type: Schema.String }))
})
export type HistoryEntry = typeof HistoryEntry.Type

export interface Instance<S, C> {
  readonly workflow: string
  readonly workflowId: string
  readonly state: S
  readonly terminal: boolean
  /** Number of applied (non-ignored) transitions; the next one is `transitions + 1`. */
  readonly transitions: number
  readonly createdAt: number
  readonly updatedAt: number
  /** Trace id of the event that started the instance: the trace to open for the whole workflow. */
  readonly traceId?: string
  readonly timers: ReadonlyArray<PendingTimer>
  readonly history: ReadonlyArray<HistoryEntry>
  /**
   * Messages stored with the state that produced them and not yet confirmed published. The runtime
   * writes the instance first (compare-and-set), then publishes the outbox, then clears it; a crash
   * in between re-publishes under the same ids, which the stream de-duplicates.
   */
  readonly outbox: ReadonlyArray<Outgoing<C>>
}

/** The stored shape of an instance for one definition; `instanceJson` for a KV value. */
export const instanceSchema = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage>(
  definition: WorkflowDefinition<S, E, C>
): Schema.Schema<Instance<S, C>, any> =>
  Schema.Struct({
    workflow: Schema.String,
    workflowId: Schema.String,
    state: definition.state,
    terminal: Schema.Boolean,
    transitions: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
    createdAt: EpochMillis,
    updatedAt: EpochMillis,
    traceId: Schema.optionalWith(Schema.String, { exact: true }),
    timers: Schema.Array(PendingTimer),
    history: Schema.Array(HistoryEntry),
    outbox: Schema.Array(Schema.Struct({ id: Schema.String, message: definition.command }))
  })

/** Instance <-> JSON text, for a KV entry. */
export const instanceJson = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage>(
  definition: WorkflowDefinition<S, E, C>
): Schema.Schema<Instance<S, C>, string> => Schema.parseJson(instanceSchema(definition))

/**
 * Instance -> JSON text for an instance the engine built (`start`, `apply`, `markPublished`): the
 * definition's parts (state, outbox messages) are validated and encoded by their Schemas, the
 * engine's own (numbers, ids, history, timers) are already in their stored shape and go as they are.
 * The same text as `instanceJson` encodes, without walking the history and timers at every write.
 * Throws a ParseError as `Schema.encodeSync` does.
 */
export const instanceEncoder = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage>(
  definition: WorkflowDefinition<S, E, C>
): ((instance: Instance<S, C>) => string) => {
  const encodeState = Schema.encodeSync(definition.state)
  const encodeCommand = Schema.encodeSync(definition.command)
  return (instance) =>
    JSON.stringify({
      workflow: instance.workflow,
      workflowId: instance.workflowId,
      state: encodeState(instance.state),
      terminal: instance.terminal,
      transitions: instance.transitions,
      createdAt: instance.createdAt,
      updatedAt: instance.updatedAt,
      ...(instance.traceId === undefined ? {} : { traceId: instance.traceId }),
      timers: instance.timers,
      history: instance.history,
      outbox: instance.outbox.map((o) => ({ id: o.id, message: encodeCommand(o.message) }))
    })
}
