import type { PendingTimer } from "@conveyor/workflow"
import { Effect, Either } from "effect"
import { type CorruptEntry, type KvUnavailable, TooManyConflicts } from "./errors.js"
import { makeRecentWrites } from "./recent-writes.js"
import type { InstanceTimers, TimerBucket } from "./timers.js"

export type TimerSync = ReturnType<typeof makeTimerSync>

/**
 * Keeps an instance's entry in the timer bucket equal to its pending timers, one write per
 * transition that changes them. Remembers the entry it wrote last per key (`capacity` keys): its
 * revision is the next compare-and-set's token, so the usual write reads nothing.
 */
export const makeTimerSync = (timers: TimerBucket, options: { readonly maxConflicts: number; readonly capacity: number }) => {
  const recentTimers = makeRecentWrites<InstanceTimers>(options.capacity)
  /**
   * Stores `pending` as the timers of the instance at `revision`, unless the entry already holds a
   * later revision's (another replica's transition got there first); deletes the entry when none
   * is pending. A lost compare-and-set re-reads. A timer pending before keeps the trace context it
   * was stored with; a new one gets `traceparent`. A new instance has no entry yet: `create`
   * without reading (it fails if there is one, and then the entry is read).
   */
  return (
    key: string, workflowId: string, revision: number, pending: ReadonlyArray<PendingTimer>, traceparent: string | undefined,
    newInstance = false
  ): Effect.Effect<void, KvUnavailable | CorruptEntry | TooManyConflicts> => {
    const attempt = (conflicts: number, assumeAbsent: boolean): Effect.Effect<void, KvUnavailable | CorruptEntry | TooManyConflicts> =>
      Effect.gen(function* () {
        const cached = recentTimers.get(key)
        const known = cached?.instance ?? (assumeAbsent ? undefined : yield* timers.get(key))
        if (known !== undefined && known.value.revision >= revision) return
        if (known === undefined && pending.length === 0) return
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
}
