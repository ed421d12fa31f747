// A workflow as data: its definition (states, events, transitions), what a transition returns, and
// the stored instance (state, history, outbox, timers).
import { Either, type Option, type ParseResult, Schema } from "effect"
import type { IllegalTransition } from "./errors.js"
import { PendingTimer, type TimerFiring, type TimerRequest } from "./timer-data.js"

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
 * timers and history, and the runtime adds storage and messaging. `S` is its state, `E` the events
 * it consumes, `C` the commands it sends to workers and `O` the events it emits about itself (its
 * outcomes, e.g. an order completed).
 */
export interface WorkflowDefinition<S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never> {
  readonly name: string
  /** Schemas for persistence (state, outbox) and for decoding the events the workflow consumes. */
  readonly state: Schema.Schema<S, any>
  readonly event: Schema.Schema<E, any>
  readonly command: Schema.Schema<C, any>
  /** The events it emits; absent when it emits none. */
  readonly emittedEvent?: Schema.Schema<O, any>
  /** Which instance an event belongs to (the correlation key, e.g. the order id). */
  readonly workflowIdOf: (event: E) => string
  /** The first transition; events that cannot start an instance are illegal. */
  readonly start: (workflowId: string, event: E) => Either.Either<Advance<S, C, O>, IllegalTransition>
  readonly transition: (state: S, event: E) => Either.Either<Transition<S, C, O>, IllegalTransition>
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
export const defineWorkflow = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>
): WorkflowDefinition<S, E, C, O> => definition

/** The instance moves on: a new state, commands to send, events to emit, timers to set or cancel. */
export interface Advance<S, C, O = never> {
  readonly _tag: "Advance"
  readonly state: S
  readonly commands: ReadonlyArray<C>
  readonly events: ReadonlyArray<O>
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

export type Transition<S, C, O = never> = Advance<S, C, O> | Ignore

export const Transition = {
  advance: <S, C = never, O = never>(
    state: S,
    options: {
      readonly commands?: ReadonlyArray<C>
      readonly events?: ReadonlyArray<O>
      readonly timers?: ReadonlyArray<TimerRequest>
      readonly terminal?: boolean
    } = {}
  ): Advance<S, C, O> => ({
    _tag: "Advance",
    state,
    commands: options.commands ?? [],
    events: options.events ?? [],
    timers: options.timers ?? [],
    terminal: options.terminal ?? false
  }),
  ignore: (reason: string): Ignore => ({ _tag: "Ignore", reason }),
  isAdvance: <S, C, O>(t: Transition<S, C, O>): t is Advance<S, C, O> => t._tag === "Advance",
  isIgnore: <S, C, O>(t: Transition<S, C, O>): t is Ignore => t._tag === "Ignore"
}

const EpochMillis = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Sequence = Schema.Number.pipe(Schema.int(), Schema.positive())

/** A command to a worker with the message id it must be published under. */
export interface OutgoingCommand<C> {
  readonly id: string
  readonly kind: "command"
  readonly message: C
}

/** An event the workflow emits about itself, with the message id it must be published under. */
export interface OutgoingEvent<O> {
  readonly id: string
  readonly kind: "event"
  readonly message: O
}

/** An outbox entry: the runtime routes a command and an event each by its own subject scheme. */
export type Outgoing<C, O = never> = OutgoingCommand<C> | OutgoingEvent<O>

const MessageRef = Schema.Struct({ id: Schema.String, type: Schema.String })

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
  /** Commands sent, then events emitted (an entry stored before they were told apart lists both as commands). */
  commands: Schema.Array(MessageRef),
  events: Schema.optionalWith(Schema.Array(MessageRef), { default: () => [] })
})
export type HistoryEntry = typeof HistoryEntry.Type

export interface Instance<S, C, O = never> {
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
  readonly outbox: ReadonlyArray<Outgoing<C, O>>
}

/**
 * One outbox entry. An entry stored before commands and events were told apart has no `kind`
 * (`{ id, message }`): it is a command when its message decodes as one, else an event.
 */
const outboxEntry = <C, O>(command: Schema.Schema<C, any>, event: Schema.Schema<O, any>): Schema.Schema<Outgoing<C, O>, any> => {
  const sent = Schema.Struct({ id: Schema.String, kind: Schema.Literal("command"), message: command })
  const emitted = Schema.Struct({ id: Schema.String, kind: Schema.Literal("event"), message: event })
  const unmarked = <K extends "command" | "event", A>(kind: K, message: Schema.Schema<A, any>) =>
    Schema.transform(
      Schema.Struct({ id: Schema.String, message }),
      Schema.Struct({ id: Schema.String, kind: Schema.Literal(kind), message: Schema.typeSchema(message) }),
      { strict: true, decode: ({ id, message }) => ({ id, kind, message }), encode: ({ id, message }) => ({ id, message }) }
    )
  // Encoding picks the first member whose type matches: always a marked one.
  return Schema.Union(sent, emitted, unmarked("command", command), unmarked("event", event))
}

/** A definition without `emittedEvent` emits none (its `O` is `never`): nothing of that kind decodes. */
const emittedEventOf = <O>(definition: { readonly emittedEvent?: Schema.Schema<O, any> }): Schema.Schema<O, any> =>
  definition.emittedEvent ?? (Schema.Never as unknown as Schema.Schema<O, any>)

type OutgoingEncoder<C, O> = (outgoing: Outgoing<C, O>) => Either.Either<unknown, ParseResult.ParseError>
const outgoingEncoders = new WeakMap<object, OutgoingEncoder<any, any>>()

/**
 * Encodes an outbox entry's message with its kind's Schema (the definition's command or emitted
 * event), to its JSON value; each call is plain calls. One encoder per definition, which remembers
 * what it encoded per message object: a transition's messages are encoded for the instance write
 * (`instanceEncoder`) and again for their publish, and the second time costs a lookup.
 */
export const outgoingEncoder = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>
): OutgoingEncoder<C, O> => {
  const made = outgoingEncoders.get(definition)
  if (made !== undefined) return made
  const command = Schema.encodeEither(definition.command)
  const event = Schema.encodeEither(emittedEventOf(definition))
  const encoded = new WeakMap<object, Either.Either<unknown, ParseResult.ParseError>>()
  const encoder: OutgoingEncoder<C, O> = (o) => {
    const message = o.message as object
    const known = encoded.get(message)
    if (known !== undefined) return known
    const result = o.kind === "command" ? command(o.message) : event(o.message)
    encoded.set(message, result)
    return result
  }
  outgoingEncoders.set(definition, encoder)
  return encoder
}

/** The stored shape of an instance for one definition; `instanceJson` for a KV value. */
export const instanceSchema = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>
): Schema.Schema<Instance<S, C, O>, any> =>
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
    outbox: Schema.Array(outboxEntry(definition.command, emittedEventOf(definition)))
  })

/** Instance <-> JSON text, for a KV entry. */
export const instanceJson = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>
): Schema.Schema<Instance<S, C, O>, string> => Schema.parseJson(instanceSchema(definition))

/**
 * Instance -> JSON text for an instance the engine built (`start`, `apply`, `markPublished`): the
 * definition's parts (state, outbox commands and events) are validated and encoded by their Schemas, the
 * engine's own (numbers, ids, history, timers) are already in their stored shape and go as they are.
 * The same text as `instanceJson` encodes, without walking the history and timers at every write.
 * Throws a ParseError as `Schema.encodeSync` does.
 */
export const instanceEncoder = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>
): ((instance: Instance<S, C, O>) => string) => {
  const encodeStateOnce = Schema.encodeSync(definition.state)
  // A state is written more than once (its transition's write, then the write that clears the
  // published outbox): encoded once per state object.
  const encodedStates = new WeakMap<object, unknown>()
  const encodeState = (state: S): unknown => {
    const known = encodedStates.get(state)
    if (known !== undefined) return known
    const encoded = encodeStateOnce(state)
    encodedStates.set(state, encoded)
    return encoded
  }
  const encodeOutgoing = outgoingEncoder(definition)
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
      outbox: instance.outbox.map((o) => ({ id: o.id, kind: o.kind, message: Either.getOrThrowWith(encodeOutgoing(o), (e) => e) }))
    })
}
