import { EncodeError, encodeMessage, isDerivedFrom, type OutgoingMessage, type Publisher, type PublishError, startAlongside, utf8Bytes } from "@conveyor/messaging"
import { currentParentSpanOption, injectTraceHeaders } from "@conveyor/telemetry"
import {
  alreadyApplied, firingId, type IllegalTransition, type Instance, markPublished, mustPersist, type Outgoing, outgoingEncoder, type PendingTimer, step, type TaggedState,
  type TypedMessage, type WorkflowDefinition
} from "@conveyor/workflow"
import { Effect, Either, Option } from "effect"
import { type CorruptEntry, type KvUnavailable, TooManyConflicts } from "../errors.js"
import type { JsonBucket, Versioned } from "../json-bucket.js"
import { makeRecentWrites } from "../recent-writes.js"
import { makeTimerSync } from "../timer-sync.js"
import type { TimerBucket } from "../timers.js"

export interface WorkflowEngineOptions<S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage> {
  readonly definition: WorkflowDefinition<S, E, C, O>
  readonly instances: JsonBucket<Instance<S, C, O>>
  readonly timers: TimerBucket
  readonly publisher: Publisher["Type"]
  /** Subject of a command the workflow sends. */
  readonly commandSubject: (command: C) => string
  /** Subject of an event it emits, and of a timer's firing event. */
  readonly eventSubject: (event: O | E) => string
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
export type EngineResult<S, C, O> =
  | { readonly _tag: "Advanced"; readonly instance: Instance<S, C, O>; readonly conflicts: number }
  | { readonly _tag: "Ignored"; readonly reason: string; readonly conflicts: number }
  /** Applied before (a redelivery after a crash): its outbox was published again. */
  | { readonly _tag: "Redelivered"; readonly instance: Instance<S, C, O>; readonly conflicts: number }

export interface WorkflowEngine<S, E, C, O> {
  /** Applies one event, identified by its message id, to its instance; see libs/workflow README for the protocol. */
  readonly handle: (event: E, messageId: string) => Effect.Effect<EngineResult<S, C, O>, EngineError>
  /** The firing event of a due timer as a message with id `firingId(timer)`. */
  readonly timerMessage: (timer: PendingTimer) => Effect.Effect<OutgoingMessage, EncodeError>
  readonly read: (workflowId: string) => Effect.Effect<Versioned<Instance<S, C, O>> | undefined, KvUnavailable | CorruptEntry>
}

/**
 * The workflow runtime over two KV buckets. Per event: read the instance and its revision, run the
 * pure `step`, write with compare-and-set (a lost race re-reads and re-applies, so no update is
 * lost), then publish the transition's messages under their deterministic ids. The outbox is
 * cleared by the next write rather than by a write of its own, except a finished instance's, which
 * has no next transition. When the transition changes the instance's timers, its whole set of
 * pending timers is written under the instance's key in the timer bucket (`syncTimers`), while the
 * messages are published: one write, also by compare-and-set, never replacing the timers of a later
 * instance revision. A crash after the instance write leaves the event unacked: its redelivery
 * finds it applied and writes the timers (and publishes the outbox) again.
 */
export const makeWorkflowEngine = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage>(
  options: WorkflowEngineOptions<S, E, C, O>
): WorkflowEngine<S, E, C, O> => {
  const { definition, instances, timers, publisher } = options
  const now = options.now ?? Date.now
  const keyOf = options.keyOf ?? ((id: string) => id)
  const maxConflicts = options.maxConflicts ?? 20
  const recent = makeRecentWrites<Instance<S, C, O>>(options.cachedInstances ?? 10_000)
  const syncTimers = makeTimerSync(timers, { maxConflicts, capacity: options.cachedInstances ?? 10_000, now })

  // Made once: encoding the outbox takes plain calls, not an Effect per message.
  const encode = outgoingEncoder(definition)
  // Commands go to their workers, the workflow's own events to the event subjects.
  const subjectOf = (o: Outgoing<C, O>) => (o.kind === "command" ? options.commandSubject(o.message) : options.eventSubject(o.message))

  /** Publishes outbox entries under their own ids; a repeat is dropped by the stream's duplicate window. */
  const publishOutbox = (outbox: Instance<S, C, O>["outbox"]): Effect.Effect<void, PublishError | EncodeError> => {
    if (outbox.length === 0) return Effect.void
    const messages: Array<OutgoingMessage> = []
    for (const o of outbox) {
      const subject = subjectOf(o)
      const encoded = encode(o)
      if (Either.isLeft(encoded)) return Effect.fail(new EncodeError({ subject, message: encoded.left.message }))
      messages.push({ subject, payload: utf8Bytes(JSON.stringify(encoded.right)), msgId: o.id })
    }
    return Effect.asVoid(publisher.publishAll(messages, { maxInFlight: 32 }))
  }

  /**
   * Drops a published outbox from the stored instance (compare-and-set). Best effort: a lost race
   * or an outage leaves it to the next write, and a repeat publish is de-duplicated meanwhile.
   */
  const clearOutbox = (key: string, instance: Instance<S, C, O>, revision: number) =>
    instance.outbox.length === 0 ? Effect.void : Effect.ignore(instances.update(key, { ...instance, outbox: [] }, revision))

  /**
   * Stores an instance's pending timers (timer-sync.ts). `traced`: the timers it sets now keep the
   * current trace context, so their firing continues the trace that set them.
   */
  const storeTimers = (key: string, workflowId: string, revision: number, pending: ReadonlyArray<PendingTimer>, traced: boolean, newInstance = false) =>
    traced
      ? Effect.flatMap(injectTraceHeaders(), ({ traceparent }) => syncTimers.sync(key, workflowId, revision, pending, traceparent, newInstance))
      : syncTimers.sync(key, workflowId, revision, pending, undefined, newInstance)

  const handle = (event: E, messageId: string): Effect.Effect<EngineResult<S, C, O>, EngineError> => {
    const workflowId = definition.workflowIdOf(event)
    const key = keyOf(workflowId)
    // A timer's firing, on an instance still waiting for timers: the timer entry is written lazily
    // (timer-sync.ts), so what fired may be an entry left from an earlier step whose timers are no
    // longer pending: the instance's timers are stored again (the sync leaves an entry still to fire alone).
    const rearms = (instance: Instance<S, C, O>) => instance.timers.length > 0 && Option.isSome(definition.timerOf(event))
    const attempt = (conflicts: number, assumeAbsent: boolean): Effect.Effect<EngineResult<S, C, O>, EngineError> =>
      Effect.gen(function* () {
        // What this engine wrote last is the instance unless another writer came in between, which
        // the compare-and-set below detects (then the entry is dropped and the instance re-read).
        // An event that starts instances, for one this engine has not written, is taken to be for a
        // new one without a read: `create` fails if it exists, and then it is read (`retryRead`).
        const cached = recent.get(key)
        const current = cached?.instance ?? (assumeAbsent ? undefined : yield* instances.get(key))
        const retryRead = () => attempt(conflicts, false)
        // Timers are stored after their instance; a firing for none (deleted by an operator, or
        // a stale timer entry) has nothing to act on.
        if (current === undefined && Option.isSome(definition.timerOf(event))) {
          return { _tag: "Ignored", reason: "timer of an instance that was never stored", conflicts } as const
        }
        if (current !== undefined && alreadyApplied(current.value, messageId)) {
          // A redelivery: its outbox is the stored instance's, not one this engine may have missed.
          if (cached !== undefined) {
            recent.drop(key)
            return yield* retryRead()
          }
          // Killed after the instance write, its timers may never have been stored.
          yield* storeTimers(key, workflowId, current.revision, current.value.timers, true)
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
        const span = yield* currentParentSpanOption
        const applied = step(definition, base, event, now(), {
          causationId: messageId,
          ...(span._tag === "Some" ? { traceId: span.value.traceId } : {})
        })
        // Only a write checks the cached revision: a decision that writes nothing (illegal, ignored)
        // is made again on the stored instance, which another orchestrator may have advanced.
        if ((cached !== undefined || assumeAbsent) && (Either.isLeft(applied) || (!mustPersist(applied.right) && leftover.length === 0))) {
          recent.drop(key)
          return yield* retryRead()
        }
        if (Either.isLeft(applied)) return yield* applied.left
        const result = applied.right
        // An ignored event still writes when it published a leftover outbox, so the outbox is not
        // published again by every later event (a finished instance gets only late ones).
        if (!mustPersist(result) && leftover.length === 0) {
          if (current !== undefined && rearms(current.value)) yield* storeTimers(key, workflowId, current.revision, current.value.timers, true)
          return { _tag: "Ignored", reason: result._tag === "Ignored" ? result.reason : "", conflicts } as const
        }
        const written = yield* (current === undefined
          ? instances.create(key, result.instance)
          : instances.update(key, result.instance, current.revision)
        ).pipe(Effect.either)
        if (Either.isLeft(written)) {
          recent.drop(key)
          if (written.left._tag === "KvUnavailable") return yield* written.left
          // Not a race: the instance this event was taken to start exists.
          if (assumeAbsent) return yield* retryRead()
          options.onConflict?.(workflowId)
          if (conflicts + 1 >= maxConflicts) return yield* new TooManyConflicts({ key, attempts: conflicts + 1 })
          return yield* attempt(conflicts + 1, false)
        }
        const mine = recent.wrote(key, { value: result.instance, revision: written.right })
        const setsTimers = (result._tag === "Advanced" && result.timersSet.length > 0) || rearms(result.instance)
        // Most transitions of a workflow that finishes in time write no timers (timer-sync.ts): no fiber for those.
        const timerWrite = (setsTimers || result.timersCleared.length > 0) && !syncTimers.covers(key, written.right, result.instance.timers)
          ? storeTimers(key, workflowId, written.right, result.instance.timers, setsTimers, current === undefined)
          : undefined
        if (result._tag === "Ignored") {
          if (timerWrite !== undefined) yield* timerWrite
          return { _tag: "Ignored", reason: result.reason, conflicts } as const
        }
        // Stored first, published second: a crash in between leaves the messages in the outbox,
        // and the redelivered event (or the instance's next event) publishes them. The timers are
        // written while the messages are published: neither waits for the other (`startAlongside`:
        // no fiber forked; the timer write changes no fiber state).
        const storing = timerWrite === undefined ? undefined : yield* startAlongside(timerWrite)
        yield* publishOutbox(result.commands.length === 0 ? result.events : [...result.commands, ...result.events])
        if (storing !== undefined) yield* storing
        mine.published = true
        // No next transition will clear a finished instance's outbox: clear it now that it is published
        // (a new revision, so the cached one goes: a late event re-reads).
        if (result.instance.terminal) {
          recent.drop(key)
          yield* clearOutbox(key, result.instance, written.right)
        }
        return { _tag: "Advanced", instance: result.instance, conflicts } as const
      })
    return attempt(0, recent.get(key) === undefined && definition.starts?.(event) === true && Option.isNone(definition.timerOf(event)))
  }

  return {
    handle,
    timerMessage: (timer) => {
      const event = definition.timerEvent(timer)
      return encodeMessage(definition.event, options.eventSubject(event), event, { msgId: firingId(timer) })
    },
    read: (workflowId) => instances.get(keyOf(workflowId))
  }
}
