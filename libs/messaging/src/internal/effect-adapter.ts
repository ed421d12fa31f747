import { Cause, Context, Effect, Exit, type Fiber, type FiberId, FiberRef, type FiberRefs, Runtime, RuntimeFlags, RuntimeFlagsPatch } from "effect"
import { yieldWrapGet } from "effect/Utils"
import { type Frame, type Primitive, rebuild } from "./effect-primitives.js"

/**
 * The runner's fast path. With effect-primitives.ts, the only modules that know how Effect 3
 * represents an Effect.
 *
 * An Effect is evaluated on a fiber's behalf by plain calls: succeed, sync, suspend, flatMap/map,
 * gen, catch/match, loops, withFiberRuntime, services, uninterruptible regions. Two ways:
 * - `runSyncFirst` stops at the first instruction that waits (or that it does not know) and hands
 *   back the rest, rebuilt with public combinators, for the fiber to run: a delivery that never
 *   waits is finished without a step through the fiber's run loop.
 * - `runFirst` goes on through waits as well (`Effect.async`: the wait is registered, and evaluation
 *   continues in its callback), so a delivery that waits costs its fiber one suspension in all,
 *   not one per wait and a forked fiber for its timeout. It can be interrupted (`Pending`) with
 *   Effect's semantics: a wait in an interruptible region is abandoned and its canceller runs,
 *   an uninterruptible region runs to its end first, failure handlers are skipped meanwhile.
 *   What it does not know is run on a fiber forked from the caller, and awaited like any wait.
 * Handlers and middlewares are plain Effect; they never know.
 *
 * It reads Effect's primitive instructions (`_op`, `effect_instruction_i*`, `commit`), which are
 * not public API: `test/effect-adapter.test.ts` pins what it does against the installed Effect.
 */

/** An evaluation by `runFirst` that is waiting: it reports its Exit once, and can be interrupted. */
export interface Pending<A, E> {
  /** Called once with the Exit (at once if it is already there). */
  readonly onDone: (listener: (exit: Exit.Exit<A, E>) => void) => void
  /** Interrupts it as a fiber would be: at its wait if interruptible, else where its region ends. */
  readonly interrupt: (by: FiberId.FiberId) => void
}

const SUSPENDED = Symbol("suspended")

/** What `cancellableAsync` is given: Effect.async's register, answering with the wait's canceller if it has one. */
type Register<A, E> = (resume: (effect: Effect.Effect<A, E>) => void) => Effect.Effect<void> | void

/** Where `cancellableAsync` keeps its register on the Effect.async it returns, for `runFirst`. */
const cancellableRegister = Symbol.for("@conveyor/messaging/cancellableAsync")

/**
 * `Effect.async(register)`, the same on any fiber, marked so that `runFirst` waits on it itself: its
 * canceller is then run by the evaluation (when the wait is interrupted, or resumed interrupted),
 * where Effect.async wraps every wait that has one in `onInterrupt` (an uninterruptible region, an
 * Exit and a cleanup, about ten steps per wait).
 */
export const cancellableAsync = <A, E = never>(register: Register<A, E>): Effect.Effect<A, E> => {
  const effect = Effect.async<A, E>(register)
  ;(effect as unknown as Record<symbol, unknown>)[cancellableRegister] = register
  return effect
}

const noCanceller = (): undefined => undefined

/** What a cancelled wait leaves: its canceller runs, uninterruptible, then `cause` goes on (with the canceller's failure after it, if any). */
const afterCanceller = (canceller: Effect.Effect<void>, cause: Cause.Cause<unknown>): Primitive =>
  Effect.uninterruptible(
    Effect.matchCauseEffect(canceller, {
      onFailure: (failure) => Effect.failCause(Cause.sequential(cause, failure)),
      onSuccess: () => Effect.failCause(cause)
    })
  ) as unknown as Primitive

/** What a wait that has a canceller goes on with once resumed with `next`: as Effect.async's onInterrupt would. */
const resumedWithCanceller = (next: Primitive, canceller: Effect.Effect<void> | undefined): Primitive => {
  if (canceller === undefined || next._op === "Success") return next
  if (next._op === "Failure") {
    const cause = next.effect_instruction_i0 as Cause.Cause<unknown>
    return Cause.isInterruptedOnly(cause) ? afterCanceller(canceller, cause) : next
  }
  return Effect.onInterrupt(next as unknown as Effect.Effect<unknown, unknown>, () => canceller) as unknown as Primitive
}

/** Where an evaluation stops: the Exit, the rest for the fiber (`runSyncFirst`), or waiting (`runFirst`). */
const evaluate = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  beforeFiberUse: (() => void) | undefined,
  runtimeFlags: RuntimeFlags.RuntimeFlags | undefined,
  throughWaits: boolean
): Exit.Exit<A, E> | Effect.Effect<A, E, R> | Pending<A, E> => {
  let prepared = beforeFiberUse === undefined
  const prepare = () => {
    if (!prepared) {
      prepared = true
      beforeFiberUse!()
    }
  }
  const stack: Array<Frame> = []
  let current = effect as unknown as Primitive
  // Either a value or a failure produced by the last instruction; handed to the frames.
  let success = false
  let value: unknown
  let cause: Cause.Cause<unknown> | undefined
  // The fiber's flags as our plain calls change them (regions); `restore` in a mask reads them.
  let flags = runtimeFlags ?? (fiber as unknown as { readonly currentRuntimeFlags: RuntimeFlags.RuntimeFlags }).currentRuntimeFlags
  // `runFirst` only: an interruption received (raised at once when interruptible, else where the
  // region ends), the wait in progress (a callback with another token is stale), and the result.
  let interruption: Cause.Cause<never> | undefined
  let raiseInterruption = false
  let waitToken = 0
  let waiting: { readonly interruptible: boolean; readonly canceller: () => Effect.Effect<void> | undefined } | undefined
  let driving = false
  let exit: Exit.Exit<A, E> | undefined
  const listeners: Array<(exit: Exit.Exit<A, E>) => void> = []

  const handBack = (at: Primitive): Effect.Effect<A, E, R> => {
    prepare()
    return rebuild(at as never, stack) as never
  }
  /**
   * Waits on `register` (an Async instruction's, or a `cancellableAsync`'s with its `canceller`):
   * SUSPENDED, or false when it answered at once.
   */
  const wait = (register: (resume: (next: Primitive) => void) => void, canceller: () => Effect.Effect<void> | undefined = noCanceller): typeof SUSPENDED | false => {
    const token = ++waitToken
    let immediate: Primitive | undefined
    let registering = true
    const resume = (next: Primitive) => {
      if (token !== waitToken) return
      waitToken++
      waiting = undefined
      if (registering) immediate = next
      else {
        current = resumedWithCanceller(next, canceller())
        drive()
      }
    }
    waiting = { interruptible: RuntimeFlags.interruption(flags), canceller }
    try {
      register(resume)
    } catch (e) {
      resume(Exit.die(e) as unknown as Primitive)
    }
    registering = false
    if (immediate !== undefined) {
      current = resumedWithCanceller(immediate, canceller())
      return false
    }
    // Interrupted from within `register` itself (it was driving then): abandoned at once.
    if (raiseInterruption && waiting?.interruptible === true) {
      raiseInterruption = false
      abandonWait()
      return false
    }
    return SUSPENDED
  }
  /** Gives up the wait in progress for the interruption: its canceller, if it has one, runs first. */
  const abandonWait = () => {
    const cancel = waiting?.canceller()
    waitToken++
    waiting = undefined
    current = cancel === undefined ? (Exit.failCause(interruption!) as unknown as Primitive) : afterCanceller(cancel, interruption!)
  }
  /** An instruction this module does not know, run on a fiber forked from the caller's and awaited as a wait. */
  const onForkedFiber = (at: Primitive) => {
    prepare()
    const runtime = Runtime.make({
      context: fiber.getFiberRef(FiberRef.currentContext) as Context.Context<never>,
      fiberRefs: fiber.getFiberRefs(),
      runtimeFlags: flags
    })
    return Effect.async<unknown, unknown>((resume) => {
      const child = Runtime.runFork(runtime)(at as unknown as Effect.Effect<unknown, unknown>)
      child.addObserver((exit) => resume(exit))
      return Effect.sync(() => child.unsafeInterruptAsFork(fiber.id()))
    }) as unknown as Primitive
  }

  const step = (): Exit.Exit<A, E> | Effect.Effect<A, E, R> | typeof SUSPENDED => {
    for (;;) {
      if (raiseInterruption && RuntimeFlags.interruption(flags)) {
        raiseInterruption = false
        success = false
        cause = interruption
      }
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
            case "Commit": {
              // A cancellableAsync: waited on here, its canceller kept with the wait.
              const cancellable = throughWaits ? ((current as unknown as Record<symbol, unknown>)[cancellableRegister] as Register<unknown, unknown> | undefined) : undefined
              if (cancellable !== undefined) {
                let canceller: Effect.Effect<void> | undefined
                const registered = wait((resume) => {
                  canceller = cancellable(resume as never) ?? undefined
                }, () => canceller)
                if (registered === SUSPENDED) return SUSPENDED
                break
              }
              // Effect.suspend, Effect.async and other committed primitives; a Context.Tag is a "Tag", below.
              if (typeof current.commit !== "function") {
                if (!throughWaits) return handBack(current)
                current = onForkedFiber(current)
                break
              }
              current = current.commit() as unknown as Primitive
              break
            }
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
            case "While":
              if (current.effect_instruction_i0()) {
                stack.push(current)
                current = current.effect_instruction_i1()
              } else {
                value = undefined
                success = true
              }
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
            case "Left":
              cause = Cause.fail((current as unknown as { left: unknown }).left)
              break
            case "Some":
              value = (current as unknown as { value: unknown }).value
              success = true
              break
            case "Async":
              if (!throughWaits) return handBack(current)
              if (wait(current.effect_instruction_i0) === SUSPENDED) return SUSPENDED
              break
            case "Yield":
              if (!throughWaits) return handBack(current)
              if (wait((resume) => void setImmediate(() => resume(Exit.void as unknown as Primitive))) === SUSPENDED) return SUSPENDED
              break
            case "UpdateRuntimeFlags": {
              const patch = current.effect_instruction_i0 as RuntimeFlagsPatch.RuntimeFlagsPatch
              const body = current.effect_instruction_i1 as ((old: RuntimeFlags.RuntimeFlags) => Primitive) | undefined
              // Scoped changes of interruptibility only (the regions of acquireUseRelease, onExit,
              // FiberRef.locally, and `restore` within them); anything else is the fiber's business.
              if (body === undefined || !RuntimeFlagsPatch.isEmpty(RuntimeFlagsPatch.exclude(patch, RuntimeFlags.Interruption))) {
                if (!throughWaits) return handBack(current)
                current = onForkedFiber(current)
                break
              }
              const outer = flags
              const inner = RuntimeFlags.patch(outer, patch)
              // Entering an interruptible region once interrupted: interrupted there, as the fiber does.
              if (interruption !== undefined && RuntimeFlags.interruption(inner)) {
                cause = interruption
                break
              }
              flags = inner
              stack.push({ _op: "Region", interruptible: RuntimeFlags.interruption(flags), outer })
              current = body(outer)
              break
            }
            default:
              if (!throughWaits) return handBack(current)
              current = onForkedFiber(current)
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
            case "While": {
              const loop = frame as Primitive
              loop.effect_instruction_i2(value)
              if (loop.effect_instruction_i0()) {
                stack.push(frame)
                current = loop.effect_instruction_i1()
                success = false
              } else value = undefined
              break
            }
            case "Region":
              flags = (frame as Extract<Frame, { readonly _op: "Region" }>).outer
              if (interruption !== undefined && RuntimeFlags.interruption(flags)) {
                success = false
                cause = interruption
              }
              break
          }
        } else {
          switch (frame._op) {
            case "OnFailure":
            case "OnSuccessAndFailure":
              // Interrupted in an interruptible region: no handler runs, as on the fiber.
              if (interruption !== undefined && RuntimeFlags.interruption(flags)) {
                cause = Cause.stripFailures(cause)
                break
              }
              current = (frame as Primitive).effect_instruction_i1(cause)
              cause = undefined
              break
            case "Region":
              flags = (frame as Extract<Frame, { readonly _op: "Region" }>).outer
              if (interruption !== undefined && RuntimeFlags.interruption(flags) && !Cause.isInterrupted(cause)) {
                cause = Cause.sequential(cause, interruption)
              }
              break
          }
        }
      } catch (e) {
        success = false
        cause = Cause.die(e)
      }
    }
  }

  /** Runs until it waits or ends (runFirst); re-entered from a wait's callback. */
  const drive = (): void => {
    if (driving) return
    driving = true
    let r: ReturnType<typeof step>
    try {
      r = step()
    } finally {
      driving = false
    }
    if (r === SUSPENDED) return
    exit = r as Exit.Exit<A, E>
    for (const listener of listeners.splice(0)) listener(exit)
  }

  const first = step()
  if (first !== SUSPENDED) return first
  const pending: Pending<A, E> = {
    onDone: (listener) => (exit !== undefined ? listener(exit) : void listeners.push(listener)),
    interrupt: (by) => {
      if (exit !== undefined || interruption !== undefined) return
      interruption = Cause.interrupt(by)
      if (waiting === undefined || driving) {
        // Received while running plain calls (from within them): raised at the next interruptible
        // instruction, or by `wait` when it came from within a wait's registration.
        raiseInterruption = true
        return
      }
      if (!waiting.interruptible) {
        // Raised where the region ends.
        return
      }
      // Abandon the wait: its canceller runs (a cancellableAsync's here, an Effect.async's in its
      // onInterrupt frame as the failure unwinds).
      abandonWait()
      drive()
    }
  }
  return pending
}

/** What `updateFiberRefs` reads and writes of a fiber: Effect 3's FiberRuntime, checked before use. */
interface FiberRefsInternals {
  readonly _fiberRefs?: FiberRefs.FiberRefs
  readonly setFiberRefs?: (refs: FiberRefs.FiberRefs) => void
}

/**
 * Replaces `fiber`'s FiberRefs with `update(theirs)`, at the cost of whatever `update` copies:
 * Effect.setFiberRefs sets every FiberRef one at a time (a copy of them all each), and
 * `getFiberRefs` copies them before handing them out. On the fiber's behalf only: from within its
 * run, or a plain-call evaluation of it (`runFirst`'s `beforeFiberUse`).
 */
export const updateFiberRefs = (fiber: Fiber.RuntimeFiber<unknown, unknown>, update: (refs: FiberRefs.FiberRefs) => FiberRefs.FiberRefs): void => {
  const internals = fiber as unknown as FiberRefsInternals
  if (internals._fiberRefs !== undefined && typeof internals.setFiberRefs === "function") return internals.setFiberRefs(update(internals._fiberRefs))
  // Not the FiberRuntime this was written against: the public way.
  void runSyncFirst(Effect.setFiberRefs(update(fiber.getFiberRefs())), fiber)
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
): Exit.Exit<A, E> | Effect.Effect<A, E, R> => evaluate(effect, fiber, beforeFiberUse, runtimeFlags, false) as Exit.Exit<A, E> | Effect.Effect<A, E, R>

/**
 * Runs `effect` on behalf of `fiber` through its waits as well: an Exit when it completed without
 * waiting, else a `Pending` that completes in the callbacks of its waits. `fiber` must not run
 * anything else until then (it awaits the Pending: `awaitPending`), as its state (FiberRefs) is
 * read and changed on its behalf.
 */
export const runFirst = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  beforeFiberUse?: () => void,
  runtimeFlags?: RuntimeFlags.RuntimeFlags
): Exit.Exit<A, E> | Pending<A, E> => evaluate(effect, fiber, beforeFiberUse, runtimeFlags, true) as Exit.Exit<A, E> | Pending<A, E>

/**
 * Waits for a Pending as one suspension of the calling fiber. Interrupting the caller interrupts
 * the evaluation and waits for it to unwind (its finalizers run), as interrupting a child would.
 */
export const awaitPending = <A, E>(pending: Pending<A, E>, interruptor: FiberId.FiberId): Effect.Effect<A, E> =>
  cancellableAsync<A, E>((resume) => {
    pending.onDone((exit) => resume(exit))
    return Effect.async<void>((done) => {
      pending.interrupt(interruptor)
      pending.onDone(() => done(Effect.void))
    })
  })
