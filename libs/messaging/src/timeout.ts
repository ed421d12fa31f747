import { Effect, Either } from "effect"
import { timeoutOnceWaiting } from "./internal/timeout-once-waiting.js"

/**
 * `Effect.timeoutFail` for a request path: fails with `onTimeout()` when `effect` is still waiting
 * after `timeoutMs`. It runs by plain calls on the calling fiber's behalf, through its waits, and a
 * timer interrupts it (`timeoutOnceWaiting`): no fiber is forked, where `Effect.timeoutFail` races
 * two forked fibers and a sleeping one on every call.
 */
export const timeoutFailOnceWaiting = <A, E, E2, R>(
  effect: Effect.Effect<A, E, R>,
  timeoutMs: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(
    timeoutOnceWaiting<Either.Either<A, E | E2>, R>(Effect.either(effect), timeoutMs, () => Either.left(onTimeout())),
    (result): Effect.Effect<A, E | E2> => result
  )
