import { Effect, Exit } from "effect"

/**
 * Combinators that continue at once when the Effect before them has already succeeded.
 *
 * `Effect.succeed(x)` and `Effect.void` are completed Exits. A delivery whose handler returns one
 * (a quick handler) and whose ack needs no reply is then processed by plain function calls, with
 * no step through the Effect run loop: every middleware on the per-delivery path composes with
 * these instead of `Effect.flatMap`/`Effect.map`, and the runner handles the whole delivery in the
 * worker's current step when the result is done. Anything else (a handler that suspends, a
 * confirmed ack, a KV claim) takes the ordinary Effect path, with the same meaning.
 */

/** Already succeeded: its value can be used without running it. */
export const isDone = <A, E, R>(effect: Effect.Effect<A, E, R>): effect is Exit.Success<A, E> & Effect.Effect<A, E, R> =>
  Exit.isExit(effect) && effect._tag === "Success"

/** `Effect.flatMap`, called at once when `effect` already succeeded. */
export const andThen = <A, E, R, B, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  f: (a: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> => (isDone(effect) ? f(effect.value) : Effect.flatMap(effect, f))

/** `Effect.map`, applied at once when `effect` already succeeded. */
export const mapNow = <A, E, R, B>(effect: Effect.Effect<A, E, R>, f: (a: A) => B): Effect.Effect<B, E, R> =>
  isDone(effect) ? Effect.succeed(f(effect.value)) : Effect.map(effect, f)

/** Runs `f` with the value and keeps the Effect: at once, and the very same Exit, when already succeeded. */
export const tapNow = <A, E, R>(effect: Effect.Effect<A, E, R>, f: (a: A) => void): Effect.Effect<A, E, R> => {
  if (isDone(effect)) {
    f(effect.value)
    return effect
  }
  return Effect.map(effect, (a) => {
    f(a)
    return a
  })
}
