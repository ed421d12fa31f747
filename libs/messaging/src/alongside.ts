import { Effect, Exit, type Fiber } from "effect"
import { awaitPending, runFirst } from "./internal/effect-adapter.js"

/**
 * Starts `effect` at once on the calling fiber's behalf, by plain calls through its waits
 * (internal/effect-adapter.ts), and answers with the Effect that awaits its result: the caller goes
 * on with other work meanwhile, as with `Effect.fork` and `Fiber.join`, but no fiber is forked
 * (a fork and its join cost about 5% of the order workflow's CPU when each transition forked one).
 *
 * For the runtime's own concurrent steps, not for handlers: `effect` must leave the fiber's state
 * alone (no FiberRef changes: no spans, `locally`, log annotations), since it runs beside the
 * caller on the same fiber's behalf; and it is not interrupted with the caller until the caller
 * awaits it (a write started this way finishes on its own).
 */
export const startAlongside = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Effect.Effect<A, E>, never, R> =>
  Effect.withFiberRuntime<Effect.Effect<A, E>, never, R>((fiber, status) => {
    const started = runFirst(effect, fiber as Fiber.RuntimeFiber<unknown, unknown>, undefined, status.runtimeFlags)
    return Effect.succeed(Exit.isExit(started) ? started : awaitPending(started, fiber.id()))
  })
