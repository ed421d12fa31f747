import { encodeMessage, type EncodeError, isDerivedFrom, type OutgoingMessage, type Publisher, type PublishError } from "@conveyor/messaging"
import { injectTraceHeaders } from "@conveyor/telemetry"
import {
  alreadyApplied, firingId, type IllegalTransition, type Instance, markPublished, mustPersist, type PendingTimer, step, type TaggedState,
  type TypedMessage, type WorkflowDefinition
} from "@conveyor/workflow"
import { Effect, Either, Option } from "effect"
import { type CorruptEntry, type KvUnavailable, TooManyConflicts } from "../errors.js"
import type { JsonBucket, Versioned } from "../json-bucket.js"
import { makeRecentWrites } from "../recent-writes.js"
import { type TimerBucket, timerKey } from "../timers.js"

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
  /** Instances this engine wrote last, kept to skip reading them back (0 turns the cache off); default 10000. */
  readonly cachedInstances?: number
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
  /** The firing event of a due timer as a message with id `firingId(timer)`. */
  readonly timerMessage: (timer: PendingTimer) => Effect.Effect<OutgoingMessage, EncodeError>
  readonly read: (workflowId: string) => Effect.Effect<Versioned<Instance<S, C>> | undefined, KvUnavailable | CorruptEntry>
}

/**
 * The workflow runtime over two KV buckets. Per event: read the instance and its revision, run the
 * pure `step`, write with compare-and-set (a lost race re-reads and re-applies, so no update is
 * lost), then publish the transition's messages under their deterministic ids. The outbox is
 * cleared by the next write rather than by a write of its own, except a finished instance's, which
 * has no next transition. Timers set by the transition are stored before the instance (an orphan
 * from a lost race or a crash only fires as a stale, ignored event); cleared ones are deleted after it.
 */
export const makeWorkflowEngine = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage>(
  options: WorkflowEngineOptions<S, E, C>
): WorkflowEngine<S, E, C> => {
  const { definition, instances, timers, publisher } = options
  const now = options.now ?? Date.now
  const keyOf = options.keyOf ?? ((id: string) => id)
  const maxConflicts = options.maxConflicts ?? 20
  const recent = makeRecentWrites<Instance<S, C>>(options.cachedInstances ?? 10_000)

  /** Publishes outbox entries under their own ids; a repeat is dropped by the stream's duplicate window. */
  const publishOutbox = (outbox: Instance<S, C>["outbox"]) =>
    outbox.length === 0
      ? Effect.void
      : Effect.forEach(outbox, (o) => encodeMessage(definition.command, options.subjectOf(o.message), o.message, { msgId: o.id })).pipe(
          Effect.flatMap((messages) => publisher.publishAll(messages, { maxInFlight: 32 })),
          Effect.asVoid
        )

  /**
   * Drops a published outbox from the stored instance (compare-and-set). Best effort: a lost race
   * or an outage leaves it to the next write, and a repeat publish is de-duplicated meanwhile.
   */
  const clearOutbox = (key: string, instance: Instance<S, C>, revision: number) =>
    instance.outbox.length === 0 ? Effect.void : Effect.ignore(instances.update(key, { ...instance, outbox: [] }, revision))

  const handle = (event: E, messageId: string): Effect.Effect<EngineResult<S, C>, EngineError> => {
    const workflowId = definition.workflowIdOf(event)
    const key = keyOf(workflowId)
    const attempt = (conflicts: number): Effect.Effect<EngineResult<S, C>, EngineError> =>
      Effect.gen(function* () {
        // What this engine wrote last is the instance unless another writer came in between, which
        // the compare-and-set below detects (then the entry is dropped and the instance re-read).
        const cached = recent.get(key)
        const current = cached?.instance ?? (yield* instances.get(key))
        // Timers are stored before their instance: a crash in between leaves a timer whose
        // transition never happened. The redelivered event arms it again; this firing is stale.
        if (current === undefined && Option.isSome(definition.timerOf(event))) {
          return { _tag: "Ignored", reason: "timer of an instance that was never stored", conflicts } as const
        }
        if (current !== undefined && alreadyApplied(current.value, messageId)) {
          // A redelivery: its outbox is the stored instance's, not one this engine may have missed.
          if (cached !== undefined) {
            recent.drop(key)
            return yield* attempt(conflicts)
          }
          yield* publishOutbox(current.value.outbox)
          yield* clearOutbox(key, current.value, current.revision)
          return { _tag: "Redelivered", instance: current.value, conflicts } as const
        }
        // The outbox still holds the previous transition's messages: they were published before
        // that event was acked, unless it crashed in between. Publishing them again (same ids) before
        // dropping them in this write means no message is ever only in a dropped outbox. Skipped
        // when this engine saw their PubAcks itself, and for a message this event is, or was
        // produced from (a worker's answer to the command): it was consumed, so it was published.
        // Another replica (or a restart) then re-publishes only what it cannot know went out.
        const leftover = current?.value.outbox ?? []
        if (cached?.published !== true) yield* publishOutbox(leftover.filter((o) => !isDerivedFrom(messageId, o.id)))
        const base = current === undefined ? undefined : markPublished(current.value, leftover.map((o) => o.id))
        // The consumer span's trace is the event's trace: kept in history so operators can open it.
        // (Without a tracer there is no consumer span, only the remote parent: its trace is the same.)
        const span = yield* Effect.option(Effect.currentParentSpan)
        const applied = step(definition, base, event, now(), {
          causationId: messageId,
          ...(span._tag === "Some" ? { traceId: span.value.traceId } : {})
        })
        // Only a write checks the cached revision: a decision that writes nothing (illegal, ignored)
        // is made again on the stored instance, which another orchestrator may have advanced.
        if (cached !== undefined && (Either.isLeft(applied) || (!mustPersist(applied.right) && leftover.length === 0))) {
          recent.drop(key)
          return yield* attempt(conflicts)
        }
        if (Either.isLeft(applied)) return yield* applied.left
        const result = applied.right
        // An ignored event still writes when it published a leftover outbox, so the outbox is not
        // published again by every later event (a finished instance gets only late ones).
        if (!mustPersist(result) && leftover.length === 0) {
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
          recent.drop(key)
          if (written.left._tag === "KvUnavailable") return yield* written.left
          options.onConflict?.(workflowId)
          if (conflicts + 1 >= maxConflicts) return yield* new TooManyConflicts({ key, attempts: conflicts + 1 })
          return yield* attempt(conflicts + 1)
        }
        const mine = recent.wrote(key, { value: result.instance, revision: written.right })
        // Cleared timers are deleted while the transition's messages are published: neither waits for the other.
        const clearTimers = Effect.forEach(result.timersCleared, (t) => timers.remove(timerKey(t.timerId)), { discard: true })
        if (result._tag === "Ignored") {
          yield* clearTimers
          return { _tag: "Ignored", reason: result.reason, conflicts } as const
        }
        // Stored first, published second: a crash in between leaves the messages in the outbox,
        // and the redelivered event (or the instance's next event) publishes them.
        yield* Effect.all([clearTimers, publishOutbox(result.commands)], { concurrency: 2, discard: true })
        mine.published = true
        // No next transition will clear a finished instance's outbox: clear it now that it is published
        // (a new revision, so the cached one goes: a late event re-reads).
        if (result.instance.terminal) {
          recent.drop(key)
          yield* clearOutbox(key, result.instance, written.right)
        }
        return { _tag: "Advanced", instance: result.instance, conflicts } as const
      })
    return attempt(0)
  }

  return {
    handle,
    timerMessage: (timer) => {
      const event = definition.timerEvent(timer)
      return encodeMessage(definition.event, options.subjectOf(event), event, { msgId: firingId(timer) })
    },
    read: (workflowId) => instances.get(keyOf(workflowId))
  }
}
