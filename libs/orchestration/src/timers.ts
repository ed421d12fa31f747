import { PendingTimer } from "@conveyor/workflow"
import { Readiness } from "@conveyor/telemetry"
import { Effect, Either, Fiber, Option, Schedule, type Scope, Schema } from "effect"
import type { JsonBucket } from "./json-bucket.js"

/** KV keys allow `[-/_=.a-zA-Z0-9]`; timer ids separate their parts with ':'. */
export const timerKey = (timerId: string): string => timerId.replace(/[^-/_=.a-zA-Z0-9]/g, (c) => (c === ":" ? "." : "_"))

export type TimerBucket = JsonBucket<PendingTimer>

export interface TimerSchedulerOptions {
  readonly timers: TimerBucket
  /** Publishes the timer's firing event under message id `firingId(timer)` (so a double firing is dropped). */
  readonly fire: (timer: PendingTimer) => Effect.Effect<void, unknown>
  /** How often due timers are looked for; the firing lateness is at most about this. */
  readonly pollMs?: number
  readonly now?: () => number
}

export interface RunningScheduler {
  /** Timers known and not yet fired. */
  readonly pending: Effect.Effect<number>
  readonly fired: Effect.Effect<number>
}

const decodeTimer = Schema.decodeUnknownEither(Schema.parseJson(PendingTimer))

/**
 * Fires due timers kept in a KV bucket. A watch replays every stored timer at start-up and then
 * follows changes, so timers set before a restart (by this or any other orchestrator) still fire.
 * A timer is deleted only after its event is stored; a crash in between fires it again under the
 * same message id, which the stream drops (and the engine ignores a firing no longer pending). The
 * deletion names the revision that fired, so a timer re-armed under the same key meanwhile stays.
 */
export const runTimerScheduler = (options: TimerSchedulerOptions): Effect.Effect<RunningScheduler, never, Scope.Scope> =>
  Effect.gen(function* () {
    const now = options.now ?? Date.now
    const known = new Map<string, { readonly timer: PendingTimer; readonly revision: number }>()
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
        const timer = decodeTimer(entry.string())
        if (Either.isRight(timer)) known.set(entry.key, { timer: timer.right, revision: entry.revision })
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
    const fireOne = (key: string, stored: { readonly timer: PendingTimer; readonly revision: number }) =>
      options.fire(stored.timer).pipe(
        Effect.zipRight(options.timers.remove(key, stored.revision)),
        Effect.tap(() => Effect.sync(() => {
          fired++
          if (known.get(key) === stored) known.delete(key)
        })),
        Effect.catchAll((e) => Effect.logWarning("timer not fired yet; will try again", { timerId: stored.timer.timerId, error: String(e) })),
        Effect.ensuring(Effect.sync(() => inFlight.delete(key)))
      )
    const tick = Effect.suspend(() => {
      const t = now()
      const due = [...known.entries()].filter(([key, stored]) => stored.timer.dueAt <= t && !inFlight.has(key))
      for (const [key] of due) inFlight.add(key)
      return Effect.forEach(due, ([key, stored]) => fireOne(key, stored), { concurrency: 32, discard: true })
    })
    const followFiber = yield* Effect.forkScoped(follow)
    const tickFiber = yield* Effect.forkScoped(Effect.repeat(tick, Schedule.spaced(options.pollMs ?? 200)))
    yield* Effect.addFinalizer(() => Fiber.interrupt(tickFiber).pipe(Effect.zipRight(Fiber.interrupt(followFiber))))
    return {
      pending: Effect.sync(() => known.size),
      fired: Effect.sync(() => fired)
    }
  })
