import { PendingTimer } from "@conveyor/workflow"
import { Readiness } from "@conveyor/telemetry"
import { Effect, Either, Fiber, Option, Schedule, type Scope, Schema } from "effect"
import type { JsonBucket } from "./json-bucket.js"

/** KV keys allow `[-/_=.a-zA-Z0-9]`; timer ids separate their parts with ':'. */
export const timerKey = (timerId: string): string => timerId.replace(/[^-/_=.a-zA-Z0-9]/g, (c) => (c === ":" ? "." : "_"))

/**
 * The pending timers of one instance, stored under the instance's own key: one write per
 * transition that changes them (a new step's timer replaces the last one's in the same write).
 * `revision` is the instance's KV revision these timers belong to; a write never replaces the
 * timers of a later revision, so writes that arrive out of order cannot bring back old timers.
 */
export const InstanceTimers = Schema.Struct({
  workflowId: Schema.String,
  revision: Schema.Number.pipe(Schema.int(), Schema.positive()),
  timers: Schema.Array(PendingTimer)
})
export type InstanceTimers = typeof InstanceTimers.Type

export type TimerBucket = JsonBucket<InstanceTimers>

/** The earliest due time of a set of timers (Infinity for none). */
export const earliestDue = (timers: ReadonlyArray<PendingTimer>): number => {
  let due = Number.POSITIVE_INFINITY
  for (const t of timers) if (t.dueAt < due) due = t.dueAt
  return due
}

export interface TimerSchedulerOptions {
  readonly timers: TimerBucket
  /** Publishes the timer's firing event under message id `firingId(timer)` (so a double firing is dropped). */
  readonly fire: (timer: PendingTimer) => Effect.Effect<void, unknown>
  /** How often due timers are looked for; the firing lateness is at most about this. */
  readonly pollMs?: number
  readonly now?: () => number
}

export interface RunningScheduler {
  /** Timers known and not yet fired (the per-replica scheduler: instances with timers not yet fired). */
  readonly pending: Effect.Effect<number>
  readonly fired: Effect.Effect<number>
}

const decodeTimers = Schema.decodeUnknownEither(Schema.parseJson(InstanceTimers))

/**
 * Fires due timers kept in a KV bucket (an instance's timers under its key). A watch replays every
 * stored entry at start-up and then follows changes, so timers set before a restart (by this or any
 * other orchestrator) still fire. An entry is deleted only after the events of all its timers are
 * stored; a crash in between fires them again under the same message ids, which the stream drops
 * (and the engine ignores a firing no longer pending). The deletion names the revision that fired,
 * so timers re-armed under the same key meanwhile stay.
 */
export const runTimerScheduler = (options: TimerSchedulerOptions): Effect.Effect<RunningScheduler, never, Scope.Scope> =>
  Effect.gen(function* () {
    const now = options.now ?? Date.now
    // Per key: the timers not fired yet of the entry at `revision`.
    const known = new Map<string, { readonly timers: ReadonlyArray<PendingTimer>; readonly revision: number }>()
    const inFlight = new Set<string>()
    let fired = 0
    let stopping = false
    // With Readiness provided, a dead watch shows on /readyz: timers would silently stop firing.
    const readiness = yield* Effect.serviceOption(Readiness)
    const flag = Option.isSome(readiness) ? Option.some(yield* readiness.value.flag(`timers ${options.timers.name}`, true)) : Option.none()
    const watcher = yield* Effect.acquireRelease(
      Effect.promise(() => options.timers.kv.watch({ key: ">" })),
      (iterator) => Effect.sync(() => {
        stopping = true
        iterator.stop()
      })
    )
    const follow = Effect.tryPromise(async () => {
      for await (const entry of watcher) {
        if (entry.operation !== "PUT") {
          known.delete(entry.key)
          continue
        }
        const stored = decodeTimers(entry.string())
        if (Either.isRight(stored)) known.set(entry.key, { timers: stored.right.timers, revision: entry.revision })
      }
    }).pipe(
      Effect.either,
      Effect.flatMap((ended) => {
        if (stopping) return Effect.void
        const reason = ended._tag === "Left" ? String(ended.left.error) : "the watch ended"
        return Effect.logError(`timer watch on ${options.timers.name} stopped (${reason}); timers set from now on will not fire until a restart`).pipe(
          Effect.zipRight(Option.isSome(flag) ? flag.value.set(false, reason) : Effect.void)
        )
      })
    )
    const fireDue = (key: string, stored: { readonly timers: ReadonlyArray<PendingTimer>; readonly revision: number }, t: number) => {
      const due = stored.timers.filter((timer) => timer.dueAt <= t)
      const later = stored.timers.filter((timer) => timer.dueAt > t)
      return Effect.forEach(due, (timer) => Effect.zipRight(options.fire(timer), Effect.sync(() => void fired++)), { discard: true }).pipe(
        // Fired ones are forgotten; the entry is deleted once none is left (at the revision that fired).
        Effect.zipRight(later.length === 0 ? options.timers.remove(key, stored.revision) : Effect.void),
        Effect.tap(() => Effect.sync(() => {
          if (known.get(key) !== stored) return
          if (later.length === 0) known.delete(key)
          else known.set(key, { timers: later, revision: stored.revision })
        })),
        Effect.catchAll((e) => Effect.logWarning("timer not fired yet; will try again", { key, error: String(e) })),
        Effect.ensuring(Effect.sync(() => inFlight.delete(key)))
      )
    }
    const tick = Effect.suspend(() => {
      const t = now()
      const due = [...known.entries()].filter(([key, stored]) => earliestDue(stored.timers) <= t && !inFlight.has(key))
      for (const [key] of due) inFlight.add(key)
      return Effect.forEach(due, ([key, stored]) => fireDue(key, stored, t), { concurrency: 32, discard: true })
    })
    const followFiber = yield* Effect.forkScoped(follow)
    const tickFiber = yield* Effect.forkScoped(Effect.repeat(tick, Schedule.spaced(options.pollMs ?? 200)))
    yield* Effect.addFinalizer(() => Fiber.interrupt(tickFiber).pipe(Effect.zipRight(Fiber.interrupt(followFiber))))
    return {
      pending: Effect.sync(() => known.size),
      fired: Effect.sync(() => fired)
    }
  })
