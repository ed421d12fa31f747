import { encodeMessage, type EncodeError, type OutgoingMessage, type Publisher, type PublishError } from "@conveyor/messaging"
import { injectTraceHeaders } from "@conveyor/telemetry"
import {
  alreadyApplied, type IllegalTransition, type Instance, markPublished, mustPersist, type PendingTimer, step, type TaggedState,
  type TypedMessage, type WorkflowDefinition
} from "@conveyor/workflow"
import { Effect, Either } from "effect"
import { type CorruptEntry, type KvUnavailable, TooManyConflicts } from "./errors.js"
import type { JsonBucket, Versioned } from "./json-bucket.js"
import { type TimerBucket, timerKey } from "./timers.js"

export interface WorkflowEngineOptions<S extends TaggedState, E extends TypedMessage, C extends TypedMessage> {
  readonly definition: WorkflowDefinition<S, E, C>
  readonly instances: JsonBucket<Instance<S, C>>
  readonly timers: TimerBucket
  readonly publisher: Publisher["Type"]
  /** Subject of an outgoing message (command or event) and of a timer's firing event. */
  readonly subjectOf: (message: C | E) => string
  /** KV key of an instance; workflow ids must already be valid KV key characters. */
  readonly keyOf?: (workflowId: string) => string
  readonly now?: () => number
  /** Lost compare-and-set races in a row before the message is handed back for a later retry. */
  readonly maxConflicts?: number
  /** Called on every lost race (metrics, tests). */
  readonly onConflict?: (workflowId: string) => void
}

export type EngineError = IllegalTransition | KvUnavailable | CorruptEntry | TooManyConflicts | PublishError | EncodeError

/** What handling one event came to. */
export type EngineResult<S, C> =
  | { readonly _tag: "Advanced"; readonly instance: Instance<S, C>; readonly conflicts: number }
  | { readonly _tag: "Ignored"; readonly reason: string; readonly conflicts: number }
  /** Applied before (a redelivery after a crash): its outbox was published again. */
  | { readonly _tag: "Redelivered"; readonly instance: Instance<S, C>; readonly conflicts: number }

export interface WorkflowEngine<S, E, C> {
  /** Applies one event, identified by its message id, to its instance; see libs/workflow README for the protocol. */
  readonly handle: (event: E, messageId: string) => Effect.Effect<EngineResult<S, C>, EngineError>
  /** The firing event of a due timer as a message with id `timerId`. */
  readonly timerMessage: (timer: PendingTimer) => Effect.Effect<OutgoingMessage, EncodeError>
  readonly read: (workflowId: string) => Effect.Effect<Versioned<Instance<S, C>> | undefined, KvUnavailable | CorruptEntry>
}

/**
 * The workflow runtime over two KV buckets. Per event: read the instance and its revision, run the
 * pure `step`, write with compare-and-set (a lost race re-reads and re-applies, so no update is
 * lost), then publish the transition's messages under their deterministic ids. The outbox is
 * cleared by the next transition's write rather than by a write of its own. Timers set by the
 * transition are stored before the instance (an orphan from a lost race only fires as a stale,
 * ignored event); cleared ones are deleted after it.
 */
export const makeWorkflowEngine = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage>(
  options: WorkflowEngineOptions<S, E, C>
): WorkflowEngine<S, E, C> => {
  const { definition, instances, timers, publisher } = options
  const now = options.now ?? Date.now
  const keyOf = options.keyOf ?? ((id: string) => id)
  const maxConflicts = options.maxConflicts ?? 20

  /** Publishes outbox entries under their own ids; a repeat is dropped by the stream's duplicate window. */
  const publishOutbox = (outbox: Instance<S, C>["outbox"]) =>
    outbox.length === 0
      ? Effect.void
      : Effect.forEach(outbox, (o) => encodeMessage(definition.command, options.subjectOf(o.message), o.message, { msgId: o.id })).pipe(
          Effect.flatMap((messages) => publisher.publishAll(messages, { maxInFlight: 32 })),
          Effect.asVoid
        )

  const handle = (event: E, messageId: string): Effect.Effect<EngineResult<S, C>, EngineError> => {
    const workflowId = definition.workflowIdOf(event)
    const key = keyOf(workflowId)
    const attempt = (conflicts: number): Effect.Effect<EngineResult<S, C>, EngineError> =>
      Effect.gen(function* () {
        const current = yield* instances.get(key)
        if (current !== undefined && alreadyApplied(current.value, messageId)) {
          yield* publishOutbox(current.value.outbox)
          return { _tag: "Redelivered", instance: current.value, conflicts } as const
        }
        // The outbox still holds the previous transition's messages: they were published before
        // that event was acked, unless it crashed in between. Publishing them again (same ids) before
        // dropping them in this write means no message is ever only in a dropped outbox.
        const leftover = current?.value.outbox ?? []
        yield* publishOutbox(leftover)
        const base = current === undefined ? undefined : markPublished(current.value, leftover.map((o) => o.id))
        // The consumer span's trace is the event's trace: kept in history so operators can open it.
        // (Without a tracer there is no consumer span, only the remote parent: its trace is the same.)
        const span = yield* Effect.option(Effect.currentParentSpan)
        const applied = step(definition, base, event, now(), {
          causationId: messageId,
          ...(span._tag === "Some" ? { traceId: span.value.traceId } : {})
        })
        if (Either.isLeft(applied)) return yield* applied.left
        const result = applied.right
        if (!mustPersist(result)) {
          return { _tag: "Ignored", reason: result._tag === "Ignored" ? result.reason : "", conflicts } as const
        }
        if (result._tag === "Advanced") {
          // The timer keeps this transition's trace context, so its firing continues the trace.
          const { traceparent } = yield* injectTraceHeaders()
          yield* Effect.forEach(result.timersSet, (t) => timers.put(timerKey(t.timerId), traceparent === undefined ? t : { ...t, traceparent }), { discard: true })
        }
        const written = yield* (current === undefined
          ? instances.create(key, result.instance)
          : instances.update(key, result.instance, current.revision)
        ).pipe(Effect.either)
        if (Either.isLeft(written)) {
          if (written.left._tag === "KvUnavailable") return yield* written.left
          options.onConflict?.(workflowId)
          if (conflicts + 1 >= maxConflicts) return yield* new TooManyConflicts({ key, attempts: conflicts + 1 })
          return yield* attempt(conflicts + 1)
        }
        yield* Effect.forEach(result.timersCleared, (t) => timers.remove(timerKey(t.timerId)), { discard: true })
        if (result._tag === "Ignored") return { _tag: "Ignored", reason: result.reason, conflicts } as const
        // Stored first, published second: a crash in between leaves the messages in the outbox,
        // and the redelivered event (or the instance's next event) publishes them.
        yield* publishOutbox(result.commands)
        return { _tag: "Advanced", instance: result.instance, conflicts } as const
      })
    return attempt(0)
  }

  return {
    handle,
    timerMessage: (timer) => {
      const event = definition.timerEvent(timer)
      return encodeMessage(definition.event, options.subjectOf(event), event, { msgId: timer.timerId })
    },
    read: (workflowId) => instances.get(keyOf(workflowId))
  }
}
