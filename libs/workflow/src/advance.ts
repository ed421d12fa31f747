import { Either, Option } from "effect"
import type { Advance, HistoryEntry, Instance, OutgoingCommand, OutgoingEvent, TaggedState, TypedMessage, WorkflowDefinition } from "./definition.js"
import { IllegalTransition } from "./errors.js"
import { commandId } from "./ids.js"
import type { PendingTimer } from "./timer-data.js"
import { planTimers, timerStatus } from "./pending-timers.js"

/** The event moved the instance: store `instance` (compare-and-set), then publish `commands` and `events`. */
export interface Advanced<S, C, O = never> {
  readonly _tag: "Advanced"
  readonly instance: Instance<S, C, O>
  /** This transition's number; its message ids embed it. */
  readonly transition: number
  /**
   * This transition's commands in order, then its events (their ids numbered on after the
   * commands'); both also appended to `instance.outbox`, in that order.
   */
  readonly commands: ReadonlyArray<OutgoingCommand<C>>
  readonly events: ReadonlyArray<OutgoingEvent<O>>
  readonly timersSet: ReadonlyArray<PendingTimer>
  readonly timersCleared: ReadonlyArray<PendingTimer>
}

/** The event changed nothing the workflow cares about; acknowledge it. */
export interface Ignored<S, C, O = never> {
  readonly _tag: "Ignored"
  readonly instance: Instance<S, C, O>
  /** True when a fired timer was consumed, so the instance still has to be written. */
  readonly changed: boolean
  readonly reason: string
  readonly timersCleared: ReadonlyArray<PendingTimer>
}

export type Applied<S, C, O = never> = Advanced<S, C, O> | Ignored<S, C, O>

/** Whether the instance must be written back (compare-and-set) before the event is acked. */
export const mustPersist = (applied: Applied<unknown, unknown, unknown>): boolean =>
  applied._tag === "Advanced" || applied.changed

export interface ApplyOptions {
  /** Message id of the incoming event, recorded in history so a redelivery can be recognised. */
  readonly causationId?: string
  /** Trace of the event (W3C trace id), recorded so operators can open it from the history. */
  readonly traceId?: string
}

const DEFAULT_HISTORY_LIMIT = 100

type Base<S, C, O> = Omit<Instance<S, C, O>, "state" | "terminal" | "updatedAt"> & { readonly state: S | undefined }

const advance = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage>(
  definition: WorkflowDefinition<S, E, C, O>,
  base: Base<S, C, O>,
  event: E,
  step: Advance<S, C, O>,
  now: number,
  options: ApplyOptions
): Advanced<S, C, O> => {
  const transition = base.transitions + 1
  const commands = step.commands.map((message, index): OutgoingCommand<C> =>
    ({ id: commandId(base.workflowId, transition, index), kind: "command", message }))
  const events = step.events.map((message, index): OutgoingEvent<O> =>
    ({ id: commandId(base.workflowId, transition, commands.length + index), kind: "event", message }))
  const timers = planTimers(base.timers, step.timers, { workflowId: base.workflowId, transition, now, terminal: step.terminal })
  const entry: HistoryEntry = {
    seq: transition,
    event: event.type,
    ...(base.state === undefined ? {} : { from: base.state._tag }),
    to: step.state._tag,
    at: now,
    ...(options.causationId === undefined ? {} : { causationId: options.causationId }),
    ...(options.traceId === undefined ? {} : { traceId: options.traceId }),
    commands: commands.map((c) => ({ id: c.id, type: c.message.type })),
    events: events.map((e) => ({ id: e.id, type: e.message.type }))
  }
  const limit = definition.historyLimit ?? DEFAULT_HISTORY_LIMIT
  return {
    _tag: "Advanced",
    instance: {
      ...base,
      state: step.state,
      terminal: step.terminal,
      transitions: transition,
      updatedAt: now,
      timers: timers.pending,
      history: [...base.history, entry].slice(-limit),
      outbox: [...base.outbox, ...commands, ...events]
    },
    transition,
    commands,
    events,
    timersSet: timers.set,
    timersCleared: timers.cleared
  }
}

/** Creates an instance from its first event. */
export const start = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>,
  event: E,
  now: number,
  options: ApplyOptions = {}
): Either.Either<Advanced<S, C, O>, IllegalTransition> => {
  const workflowId = definition.workflowIdOf(event)
  return definition.start(workflowId, event).pipe(
    Either.mapLeft((e) => withWorkflowId(e, workflowId)),
    Either.map((step) =>
      advance(definition, {
        workflow: definition.name, workflowId, state: undefined, transitions: 0,
        createdAt: now, timers: [], history: [], outbox: [],
        ...(options.traceId === undefined ? {} : { traceId: options.traceId })
      }, event, step, now, options))
  )
}

/**
 * Feeds one event to an existing instance. Stale timer firings are ignored before the definition
 * sees them; a terminal instance may still ignore an event (a late duplicate) but never advance.
 */
export const apply = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>,
  instance: Instance<S, C, O>,
  event: E,
  now: number,
  options: ApplyOptions = {}
): Either.Either<Applied<S, C, O>, IllegalTransition> => {
  const illegal = (reason: string) =>
    Either.left(new IllegalTransition({
      workflow: definition.name, workflowId: instance.workflowId, state: instance.state._tag, event: event.type, reason
    }))
  const owner = definition.workflowIdOf(event)
  if (owner !== instance.workflowId) return illegal(`the event belongs to instance ${owner}`)

  const firing = definition.timerOf(event)
  if (Option.isSome(firing) && timerStatus(instance, firing.value) === "stale") {
    return Either.right(ignored(instance, `stale timer ${firing.value.name} (${firing.value.timerId})`, []))
  }
  const fired = Option.isSome(firing) ? instance.timers.filter((t) => t.timerId === firing.value.timerId) : []
  const remaining = instance.timers.filter((t) => !fired.includes(t))

  const decided = definition.transition(instance.state, event)
  if (Either.isLeft(decided)) return Either.left(withWorkflowId(decided.left, instance.workflowId))
  const step = decided.right
  if (step._tag === "Ignore") {
    return Either.right(fired.length === 0
      ? ignored(instance, step.reason, [])
      : ignored({ ...instance, timers: remaining, updatedAt: now }, step.reason, fired))
  }
  if (instance.terminal) return illegal("the workflow has already finished")
  const result = advance(definition, { ...instance, timers: remaining }, event, step, now, options)
  return Either.right({ ...result, timersCleared: [...fired, ...result.timersCleared] })
}

/** `start` when there is no instance yet, else `apply`: what the orchestrator calls per event. */
export const step = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage = never>(
  definition: WorkflowDefinition<S, E, C, O>,
  instance: Instance<S, C, O> | undefined,
  event: E,
  now: number,
  options: ApplyOptions = {}
): Either.Either<Applied<S, C, O>, IllegalTransition> =>
  instance === undefined ? start(definition, event, now, options) : apply(definition, instance, event, now, options)

/**
 * Whether the event with this message id was already applied (a redelivery after the instance was
 * written but before the event was acked). The runtime then re-publishes the outbox and acks.
 * Only as far back as the kept history reaches.
 */
export const alreadyApplied = (instance: Pick<Instance<unknown, unknown, unknown>, "history">, causationId: string): boolean =>
  instance.history.some((h) => h.causationId === causationId)

/** Drops confirmed-published messages from the outbox. */
export const markPublished = <S, C, O>(instance: Instance<S, C, O>, ids: Iterable<string>): Instance<S, C, O> => {
  const done = new Set(ids)
  return { ...instance, outbox: instance.outbox.filter((o) => !done.has(o.id)) }
}

const ignored = <S, C, O>(
  instance: Instance<S, C, O>,
  reason: string,
  cleared: ReadonlyArray<PendingTimer>
): Ignored<S, C, O> => ({ _tag: "Ignored", instance, changed: cleared.length > 0, reason, timersCleared: cleared })

const withWorkflowId = (e: IllegalTransition, workflowId: string): IllegalTransition =>
  e.workflowId === undefined
    ? new IllegalTransition({ workflow: e.workflow, workflowId, state: e.state, event: e.event, reason: e.reason })
    : e
