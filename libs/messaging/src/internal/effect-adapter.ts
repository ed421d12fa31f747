import { Cause, Context, Effect, Exit, Fiber, FiberRef, RuntimeFlags, RuntimeFlagsPatch } from "effect"
import { yieldWrapGet } from "effect/Utils"

/**
 * The runner's fast path, and the only module that knows how Effect 3 represents an Effect.
 *
 * `runSyncFirst` evaluates an Effect on a fiber's behalf by plain calls for as long as it needs no
 * waiting (succeed, sync, suspend, flatMap/map, gen, catch/match, withFiberRuntime, services,
 * uninterruptible regions): a delivery whose handling and settlement never waited is finished
 * without a step through the fiber's run loop. At the first instruction it does not evaluate
 * (anything asynchronous, a yield) it hands back the rest, rebuilt with public combinators, for
 * the fiber to run. Handlers and middlewares are plain Effect; they never know.
 *
 * It reads Effect's primitive instructions (`_op`, `effect_instruction_i*`, `commit`), which are
 * not public API: `test/effect-adapter.test.ts` pins what it does against the installed Effect.
 * An instruction it does not know is handed to the fiber, so a change in Effect's representation
 * costs speed, not correctness, as long as the known ones keep their meaning.
 */

type Primitive = {
  readonly _op: string
  readonly effect_instruction_i0?: any
  readonly effect_instruction_i1?: any
  readonly effect_instruction_i2?: any
  readonly commit?: () => Effect.Effect<unknown, unknown, unknown>
}

/**
 * What is still to run once the current instruction produced a value or a failure: the
 * continuation instruction itself (OnSuccess, OnFailure, OnSuccessAndFailure, Iterator: no copy
 * per step), or the end of a region (`uninterruptible`, `interruptible`): the frames above it ran
 * with `interruptible`, those below with `outer`.
 */
type Frame = Primitive | { readonly _op: "Region"; readonly interruptible: boolean; readonly outer: RuntimeFlags.RuntimeFlags }

/** Continues a generator (`Effect.gen`) from `value` with public combinators. */
const resumeIterator = (it: Iterator<unknown, unknown, unknown>, value: unknown): Effect.Effect<unknown, unknown, unknown> =>
  Effect.suspend(() => {
    const state = it.next(value)
    if (state.done === true) return Effect.succeed(state.value)
    return Effect.flatMap(yieldWrapGet(state.value as never) as Effect.Effect<unknown, unknown, unknown>, (v) => resumeIterator(it, v))
  })

/** The rest of the computation as an Effect the fiber can run: `current`, then the frames, top first. */
const rebuild = (current: Effect.Effect<unknown, unknown, unknown>, stack: Array<Frame>): Effect.Effect<unknown, unknown, unknown> => {
  let rest = current
  for (let i = stack.length - 1; i >= 0; i--) {
    const frame = stack[i]!
    switch (frame._op) {
      case "OnSuccess":
        rest = Effect.flatMap(rest, (frame as Primitive).effect_instruction_i1)
        break
      case "OnFailure":
        rest = Effect.catchAllCause(rest, (frame as Primitive).effect_instruction_i1)
        break
      case "OnSuccessAndFailure":
        rest = Effect.matchCauseEffect(rest, { onFailure: (frame as Primitive).effect_instruction_i1, onSuccess: (frame as Primitive).effect_instruction_i2 })
        break
      case "Iterator": {
        const it = (frame as Primitive).effect_instruction_i0 as Iterator<unknown, unknown, unknown>
        rest = Effect.flatMap(rest, (v) => resumeIterator(it, v))
        break
      }
      case "Region": {
        const region = frame as Extract<Frame, { readonly _op: "Region" }>
        rest = region.interruptible ? Effect.interruptible(rest) : Effect.uninterruptible(rest)
        break
      }
    }
  }
  return rest
}

/**
 * Runs `effect` on behalf of `fiber` (the fiber calling this, from inside its own run loop) until
 * it completes or must wait: an Exit when it completed, otherwise the rest as an Effect that the
 * fiber must run (never an Exit). Nothing is interrupted meanwhile: plain calls have no
 * interruption points, so an interruption is seen as arriving after them.
 */
export const runSyncFirst = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  /**
   * Called once before anything reads or changes the fiber's state (withFiberRuntime, a service, a
   * log line) and before the rest is handed back: the runner sets per-delivery state (log
   * annotations) only for a delivery that uses it.
   */
  beforeFiberUse?: () => void,
  /** The flags the caller runs with, when they are not yet the fiber's (a caller inside runSyncFirst's plain calls). */
  runtimeFlags?: RuntimeFlags.RuntimeFlags
): Exit.Exit<A, E> | Effect.Effect<A, E, R> => {
  let prepared = beforeFiberUse === undefined
  const prepare = () => {
    if (!prepared) {
      prepared = true
      beforeFiberUse!()
    }
  }
  const handBack = (current: Primitive): Effect.Effect<A, E, R> => {
    prepare()
    return rebuild(current as never, stack) as never
  }
  const stack: Array<Frame> = []
  let current = effect as unknown as Primitive
  // Either a value or a failure produced by the last instruction; handed to the frames.
  let success = false
  let value: unknown
  let cause: Cause.Cause<unknown> | undefined
  // The fiber's flags as our plain calls change them (regions); `restore` in a mask reads them.
  let flags = runtimeFlags ?? (fiber as unknown as { readonly currentRuntimeFlags: RuntimeFlags.RuntimeFlags }).currentRuntimeFlags
  for (;;) {
    if (cause === undefined && !success) {
      try {
        switch (current._op) {
          case "Success":
            value = current.effect_instruction_i0
            success = true
            break
          case "Failure":
            cause = current.effect_instruction_i0 as Cause.Cause<unknown>
            break
          case "Sync":
            value = current.effect_instruction_i0()
            success = true
            break
          case "Commit":
            // Effect.suspend and other committed primitives; a Context.Tag is a "Tag", below.
            if (typeof current.commit !== "function") return handBack(current)
            current = current.commit() as unknown as Primitive
            break
          case "OnSuccess":
          case "OnFailure":
          case "OnSuccessAndFailure":
            stack.push(current)
            current = current.effect_instruction_i0
            break
          case "Iterator":
            stack.push(current)
            value = undefined
            success = true
            break
          case "WithRuntime":
            prepare()
            current = current.effect_instruction_i0(fiber, { _tag: "Running", runtimeFlags: flags }) as Primitive
            break
          case "Tag":
            prepare()
            value = Context.unsafeGet(fiber.getFiberRef(FiberRef.currentContext), current as never)
            success = true
            break
          case "Right":
            value = (current as unknown as { right: unknown }).right
            success = true
            break
          case "Some":
            value = (current as unknown as { value: unknown }).value
            success = true
            break
          case "UpdateRuntimeFlags": {
            const patch = current.effect_instruction_i0 as RuntimeFlagsPatch.RuntimeFlagsPatch
            const body = current.effect_instruction_i1 as ((old: RuntimeFlags.RuntimeFlags) => Primitive) | undefined
            // Scoped changes of interruptibility only (the regions of acquireUseRelease, onExit,
            // FiberRef.locally, and `restore` within them); anything else is the fiber's business.
            if (body === undefined || !RuntimeFlagsPatch.isEmpty(RuntimeFlagsPatch.exclude(patch, RuntimeFlags.Interruption))) {
              return handBack(current)
            }
            const outer = flags
            flags = RuntimeFlags.patch(outer, patch)
            stack.push({ _op: "Region", interruptible: RuntimeFlags.interruption(flags), outer })
            current = body(outer)
            break
          }
          default:
            return handBack(current)
        }
      } catch (e) {
        cause = Cause.die(e)
      }
      continue
    }
    // Hand the value or failure to the top frame.
    const frame = stack.pop()
    if (frame === undefined) return (cause === undefined ? Exit.succeed(value) : Exit.failCause(cause)) as Exit.Exit<A, E>
    try {
      if (cause === undefined) {
        switch (frame._op) {
          case "OnSuccess":
            current = (frame as Primitive).effect_instruction_i1(value)
            success = false
            break
          case "OnSuccessAndFailure":
            current = (frame as Primitive).effect_instruction_i2(value)
            success = false
            break
          case "Iterator": {
            const state = ((frame as Primitive).effect_instruction_i0 as Iterator<unknown, unknown, unknown>).next(value)
            if (state.done === true) {
              value = state.value
            } else {
              stack.push(frame)
              current = yieldWrapGet(state.value as never) as unknown as Primitive
              success = false
            }
            break
          }
          case "Region":
            flags = (frame as Extract<Frame, { readonly _op: "Region" }>).outer
            break
        }
      } else {
        switch (frame._op) {
          case "OnFailure":
          case "OnSuccessAndFailure":
            current = (frame as Primitive).effect_instruction_i1(cause)
            cause = undefined
            break
          case "Region":
            flags = (frame as Extract<Frame, { readonly _op: "Region" }>).outer
            break
        }
      }
    } catch (e) {
      success = false
      cause = Cause.die(e)
    }
  }
}

/**
 * `effect` given at most `timeoutMs` once it waits, `onTimeout()` if it was still waiting then:
 * the part that needs no waiting runs by plain calls on the calling fiber (`runSyncFirst`); only
 * the rest, when there is one, gets a fiber of its own, interrupted by a timer. Effect.timeoutTo
 * forked two fibers and a sleeping one per call, about 60 µs of CPU for every delivery of a runner
 * with a handler timeout; a synchronous stretch cannot be cut short by either, as no timer fires
 * while it runs. `effect` must not fail: its failures are its result (an Outcome).
 */
export const timeoutOnceWaiting = <A, R>(effect: Effect.Effect<A, never, R>, timeoutMs: number, onTimeout: () => A): Effect.Effect<A, never, R> =>
  Effect.withFiberRuntime<A, never, R>((parent, status) => {
    const first = runSyncFirst(effect, parent as Fiber.RuntimeFiber<unknown, unknown>, undefined, status.runtimeFlags)
    if (Exit.isExit(first)) return first
    return Effect.flatMap(Effect.fork(first), (child) => {
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        child.unsafeInterruptAsFork(parent.id())
      }, timeoutMs)
      return Effect.onInterrupt(Fiber.await(child), () => Fiber.interrupt(child)).pipe(
        Effect.ensuring(Effect.sync(() => clearTimeout(timer))),
        Effect.flatMap((exit): Effect.Effect<A> =>
          Exit.isSuccess(exit) ? exit : timedOut && Cause.isInterruptedOnly(exit.cause) ? Effect.sync(onTimeout) : exit
        )
      )
    })
  })
