import { Cause, Effect, Exit, type Fiber } from "effect"
import { awaitPending, runFirst } from "./effect-adapter.js"

/**
 * `effect` given at most `timeoutMs` once it waits, `onTimeout()` if it was still waiting then:
 * it runs by plain calls on the calling fiber's behalf through its waits (`runFirst`), and the
 * timer interrupts the evaluation, not a fiber: no fiber is forked per call (Effect.timeoutTo forked
 * two fibers and a sleeping one, about 60 µs of CPU for every delivery of a runner with a handler
 * timeout). A synchronous stretch cannot be cut short, as no timer fires while it runs. `effect`
 * must not fail: its failures are its result (an Outcome).
 */
export const timeoutOnceWaiting = <A, R>(effect: Effect.Effect<A, never, R>, timeoutMs: number, onTimeout: () => A): Effect.Effect<A, never, R> =>
  Effect.withFiberRuntime<A, never, R>((parent, status) => {
    const first = runFirst(effect, parent as Fiber.RuntimeFiber<unknown, unknown>, undefined, status.runtimeFlags)
    if (Exit.isExit(first)) return first
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      first.interrupt(parent.id())
    }, timeoutMs)
    // However it ends (its result, the timer, the caller interrupted), the timer goes with it: a
    // listener, not an `ensuring` region and an Exit per call.
    first.onDone(() => clearTimeout(timer))
    return Effect.catchAllCause(awaitPending(first, parent.id()), (cause): Effect.Effect<A> =>
      timedOut && Cause.isInterruptedOnly(cause) ? Effect.sync(onTimeout) : Effect.failCause(cause)
    )
  })
