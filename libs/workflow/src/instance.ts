import { Schema } from "effect"
import type { TaggedState, TypedMessage, WorkflowDefinition } from "./definition.js"
import { PendingTimer } from "./timer.js"

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
