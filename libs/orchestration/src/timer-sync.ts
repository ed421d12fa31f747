import type { PendingTimer } from "@conveyor/workflow"
import { Effect, Either } from "effect"
import { type CorruptEntry, type KvUnavailable, TooManyConflicts } from "./errors.js"
import { makeRecentWrites } from "./recent-writes.js"
import { earliestDue, type InstanceTimers, type TimerBucket } from "./timers.js"

export type TimerSync = ReturnType<typeof makeTimerSync>

/** Whether a stored entry with `stored` timers, not yet due at `now`, fires no later than the earliest of `pending`. */
const firesInTime = (stored: ReadonlyArray<PendingTimer>, pending: ReadonlyArray<PendingTimer>, now: number): boolean => {
  const due = earliestDue(stored)
  return due > now && due <= earliestDue(pending)
}

/**
 * Whether storing `pending` for the instance at `revision` writes nothing, given the entry stored
 * (undefined: none): none is needed and none is there, the entry holds a later revision's (another
 * replica's transition got there first), or it fires in time.
 */
const nothingToWrite = (stored: InstanceTimers | undefined, revision: number, pending: ReadonlyArray<PendingTimer>, now: number): boolean =>
  stored === undefined ? pending.length === 0 : stored.revision >= revision || (pending.length > 0 && firesInTime(stored.timers, pending, now))

/**
 * Keeps an instance's entry in the timer bucket firing no later than its earliest pending timer.
 * Remembers the entry it wrote last per key (`capacity` keys): its revision is the next
 * compare-and-set's token, so the usual write reads nothing.
 *
 * The entry is written lazily: a transition whose timers are all due no earlier than the stored
 * entry's earliest (which has not fired yet) writes nothing, as when each step of a workflow sets
 * a timeout later than the last one's. The entry then fires early with timers no longer pending:
 * the engine ignores those firings and calls this again (`rearm`), which stores the instance's
 * timers as they are now. A workflow that finishes in time costs the entry one write to create it
 * and one to delete it, not one per step.
 */
export const makeTimerSync = (
  timers: TimerBucket,
  options: { readonly maxConflicts: number; readonly capacity: number; readonly now: () => number }
) => {
  const recentTimers = makeRecentWrites<InstanceTimers>(options.capacity)
  /**
   * Whether the entry this process last wrote for `key` already makes `sync` write nothing for these
   * arguments: known without a read, so the caller need not start the write at all.
   */
  const covers = (key: string, revision: number, pending: ReadonlyArray<PendingTimer>): boolean => {
    const known = recentTimers.get(key)?.instance
    return known !== undefined && nothingToWrite(known.value, revision, pending, options.now())
  }
  /**
   * Stores `pending` as the timers of the instance at `revision`, unless the entry already holds a
   * later revision's (another replica's transition got there first); deletes the entry when none
   * is pending. A lost compare-and-set re-reads. A timer pending before keeps the trace context it
   * was stored with; a new one gets `traceparent`. A new instance has no entry yet: `create`
   * without reading (it fails if there is one, and then the entry is read).
   */
  const sync = (
    key: string, workflowId: string, revision: number, pending: ReadonlyArray<PendingTimer>, traceparent: string | undefined,
    newInstance = false
  ): Effect.Effect<void, KvUnavailable | CorruptEntry | TooManyConflicts> => {
    const attempt = (conflicts: number, assumeAbsent: boolean): Effect.Effect<void, KvUnavailable | CorruptEntry | TooManyConflicts> =>
      Effect.gen(function* () {
        const cached = recentTimers.get(key)
        const known = cached?.instance ?? (assumeAbsent ? undefined : yield* timers.get(key))
        if (nothingToWrite(known?.value, revision, pending, options.now())) return
        const before = known?.value.timers ?? []
        const next: InstanceTimers = {
          workflowId,
          revision,
          timers: pending.map((t) => before.find((b) => b.timerId === t.timerId) ?? (traceparent === undefined ? t : { ...t, traceparent }))
        }
        const written = yield* (known === undefined
          ? timers.create(key, next)
          : pending.length === 0
          ? Effect.as(timers.removeAt(key, known.revision), 0)
          : timers.update(key, next, known.revision)
        ).pipe(Effect.either)
        if (Either.isRight(written)) {
          if (written.right === 0) recentTimers.drop(key)
          else recentTimers.wrote(key, { value: next, revision: written.right })
          return
        }
        recentTimers.drop(key)
        if (written.left._tag === "KvUnavailable") return yield* written.left
        if (conflicts + 1 >= options.maxConflicts) return yield* new TooManyConflicts({ key: `timers of ${key}`, attempts: conflicts + 1 })
        return yield* attempt(conflicts + 1, false)
      })
    return attempt(0, newInstance && pending.length > 0)
  }
  return { sync, covers }
}
