import { Cause, Context, Effect, Exit, Fiber, FiberId, FiberRef, FiberRefs, HashMap, Logger, Ref } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { awaitPending, cancellableAsync, type Pending, runFirst, runSyncFirst, updateFiberRefs } from "../src/internal/effect-adapter.js"
import { timeoutOnceWaiting } from "../src/internal/timeout-once-waiting.js"

// Pins what the runner's fast path does against the installed Effect: it reads Effect's primitive
// instructions, which are not public API. If an Effect upgrade changes them, these fail.

class Greeting extends Context.Tag("Greeting")<Greeting, string>() {}

/** Runs `effect` through the adapter on a real fiber: the Exit when it completed by plain calls, else "handed back" and the rest's Exit. */
const viaAdapter = <A, E>(effect: Effect.Effect<A, E, Greeting>) =>
  Effect.runPromise(
    Effect.withFiberRuntime<{ readonly sync: boolean; readonly exit: Exit.Exit<A, E> }, never, Greeting>((fiber) => {
      const r = runSyncFirst(effect, fiber as never)
      return Exit.isExit(r) ? Effect.succeed({ sync: true, exit: r }) : Effect.map(Effect.exit(r), (exit) => ({ sync: false, exit }))
    }).pipe(Effect.provideService(Greeting, "hello"))
  )

const same = async <A, E>(make: () => Effect.Effect<A, E, Greeting>, sync: boolean) => {
  const expected = await Effect.runPromiseExit(make().pipe(Effect.provideService(Greeting, "hello")))
  const got = await viaAdapter(make())
  expect(got.sync).toBe(sync)
  expect(got.exit).toStrictEqual(expected)
}

describe("effect adapter (runSyncFirst) on the installed Effect", () => {
  it("completes by plain calls what never waits: succeed, sync, suspend, flatMap, map, gen, catch, match, services, FiberRefs", async () => {
    await same(() => Effect.succeed(1), true)
    await same(() => Effect.void, true)
    await same(() => Effect.map(Effect.sync(() => 2), (n) => n * 3), true)
    await same(() => Effect.suspend(() => Effect.flatMap(Effect.succeed(1), (n) => Effect.succeed(n + 1))), true)
    await same(
      () =>
        Effect.gen(function* () {
          const a = yield* Effect.succeed(1)
          const b = yield* Effect.sync(() => 2)
          const g = yield* Greeting
          return `${g} ${a + b}`
        }),
      true
    )
    await same(() => Effect.catchAll(Effect.fail("no" as const), (e) => Effect.succeed(`caught ${e}`)), true)
    await same(() => Effect.matchCauseEffect(Effect.die("boom"), { onFailure: () => Effect.succeed("handled"), onSuccess: () => Effect.succeed("x") }), true)
    await same(() => Effect.fail("typed" as const), true)
    await same(() => Effect.sync(() => { throw new Error("thrown") }), true)
    await same(() => Effect.flatMap(FiberRef.get(FiberRef.currentLogAnnotations), () => Effect.succeed("read")), true)
    // Uninterruptible regions: onExit, acquireUseRelease, FiberRef.locally, withParentSpan.
    await same(() => Effect.onExit(Effect.succeed(5), () => Effect.void), true)
    await same(() => Effect.acquireUseRelease(Effect.succeed(1), (n) => Effect.succeed(n + 1), () => Effect.void), true)
    await same(() => Effect.locally(Effect.succeed(7), FiberRef.currentLogAnnotations, HashMap.empty()), true)
  })

  it("hands back what must wait, and the rest gives the same result, each side effect once", async () => {
    let effects = 0
    const make = () =>
      Effect.gen(function* () {
        effects++
        yield* Effect.sleep("1 millis")
        effects++
        return yield* Effect.catchAll(Effect.fail("late"), (e) => Effect.succeed(`${e} caught`))
      })
    await same(make, false)
    expect(effects).toBe(4) // twice per run: once directly, once through the adapter
    await same(() => Effect.flatMap(Effect.yieldNow(), () => Effect.succeed("after a yield")), false)
    await same(() => Effect.matchCauseEffect(Effect.async<number, string>((resume) => void setTimeout(() => resume(Effect.fail("async")), 1)), { onFailure: () => Effect.succeed(0), onSuccess: Effect.succeed }), false)
  })

  it("keeps an uninterruptible region uninterruptible when what is inside it must wait", async () => {
    const released: Array<string> = []
    const result = await Effect.runPromise(
      Effect.withFiberRuntime<string>((fiber) => {
        const region = Effect.acquireUseRelease(
          Effect.succeed("r"),
          () => Effect.never,
          (r) => Effect.sync(() => void released.push(r))
        )
        const rest = runSyncFirst(region, fiber as never)
        expect(Exit.isExit(rest)).toBe(false)
        return Effect.flatMap(Effect.fork(rest as Effect.Effect<never>), (f) => Effect.as(Effect.zipRight(Effect.sleep("5 millis"), Effect.fork(f.interruptAsFork(f.id()))), "interrupted"))
      })
    )
    await new Promise((r) => setTimeout(r, 20))
    expect(result).toBe("interrupted")
    expect(released).toEqual(["r"])
  })

  it("logs with the fiber's annotations, as the fiber would", async () => {
    const lines: Array<unknown> = []
    const logger = Logger.make(({ annotations }) => void lines.push(Object.fromEntries(annotations)))
    await Effect.runPromise(
      Effect.withFiberRuntime<void>((fiber) => {
        const r = runSyncFirst(Effect.zipRight(FiberRef.set(FiberRef.currentLogAnnotations, HashMap.make(["messageId", "m-1"])), Effect.log("x")), fiber as never)
        expect(Exit.isExit(r)).toBe(true)
        return Effect.void
      }).pipe(Effect.annotateLogs("consumer", "c"), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    )
    expect(lines).toEqual([{ messageId: "m-1" }])
  })

  it("updateFiberRefs replaces the fiber's FiberRefs at once: FiberRefs and services read after it see the new ones", async () => {
    const counter = FiberRef.unsafeMake(0)
    const got = await Effect.runPromise(
      Effect.withFiberRuntime<readonly [number, string, string], never, Greeting>((fiber) => {
        const id = (fiber as Fiber.RuntimeFiber<unknown, unknown>).id()
        updateFiberRefs(fiber as Fiber.RuntimeFiber<unknown, unknown>, (refs) =>
          FiberRefs.updateManyAs(refs, {
            entries: [
              [counter, [[id, 7]]],
              [FiberRef.currentContext, [[id, Context.add(fiber.getFiberRef(FiberRef.currentContext), Greeting, "bonjour")]]]
            ]
          }))
        return Effect.all([FiberRef.get(counter), Greeting, Effect.flatMap(Effect.fork(Greeting), Fiber.join)] as const)
      }).pipe(Effect.provideService(Greeting, "hello"))
    )
    expect(got).toEqual([7, "bonjour", "bonjour"])
  })

  describe("timeoutOnceWaiting", () => {
    const limited = <A>(effect: Effect.Effect<A>, ms: number) => Effect.runPromise(timeoutOnceWaiting(effect, ms, () => "timed out" as A | "timed out"))

    it("returns what needs no waiting as it is, however short the limit", async () => {
      expect(await limited(Effect.succeed("now"), 1)).toBe("now")
      expect(await limited(Effect.map(Effect.sync(() => 20), (n) => n + 1), 1)).toBe(21)
    })

    it("returns the result of what waits less than the limit, and of what fails", async () => {
      expect(await limited(Effect.as(Effect.sleep("5 millis"), "waited"), 1_000)).toBe("waited")
      const exit = await Effect.runPromiseExit(timeoutOnceWaiting(Effect.zipRight(Effect.sleep("1 millis"), Effect.die("boom")), 1_000, () => "timed out"))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    })

    it("interrupts what still waits at the limit and answers onTimeout()", async () => {
      let interrupted = 0
      const hangs = Effect.zipRight(Effect.sync(() => "started"), Effect.never).pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted++)))
      expect(await limited(hangs, 20)).toBe("timed out")
      expect(interrupted).toBe(1)
    })

    it("interrupts what waits when its caller is interrupted, without answering onTimeout()", async () => {
      let interrupted = 0
      let timedOut = 0
      const hangs = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted++)))
      const exit = await Effect.runPromiseExit(
        Effect.flatMap(Effect.fork(timeoutOnceWaiting(hangs, 60_000, () => void timedOut++)), (f) => Effect.zipRight(Effect.sleep("5 millis"), Fiber.interrupt(f)))
      )
      expect(Exit.isSuccess(exit) && Exit.isInterrupted(exit.value)).toBe(true)
      expect(interrupted).toBe(1)
      expect(timedOut).toBe(0)
    })
    it("leaves no timer behind, however it ends: a result, a defect, its caller interrupted", async () => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length
      const before = timers()
      await limited(Effect.as(Effect.sleep("1 millis"), "waited"), 600_000)
      await Effect.runPromiseExit(timeoutOnceWaiting(Effect.zipRight(Effect.sleep("1 millis"), Effect.die("boom")), 600_000, () => "timed out"))
      await Effect.runPromiseExit(
        Effect.flatMap(Effect.fork(timeoutOnceWaiting(Effect.never, 600_000, () => "timed out")), (f) => Effect.zipRight(Effect.sleep("1 millis"), Fiber.interrupt(f)))
      )
      // (An earlier test's timer may still be pending at the start: no more than then.)
      expect(timers()).toBeLessThanOrEqual(before)
    })
  })

  describe("runFirst: through waits, interruptible as a fiber", () => {
    /** Runs `effect` through runFirst on a real fiber, awaiting it if it waits; `interruptAfterMs` interrupts it then. */
    const throughWaits = <A, E>(effect: Effect.Effect<A, E, Greeting>, interruptAfterMs?: number) =>
      Effect.runPromise(
        Effect.withFiberRuntime<{ readonly waited: boolean; readonly exit: Exit.Exit<A, E> }, never, Greeting>((fiber) => {
          const r = runFirst(effect, fiber as never)
          if (Exit.isExit(r)) return Effect.succeed({ waited: false, exit: r })
          if (interruptAfterMs !== undefined) setTimeout(() => r.interrupt(fiber.id()), interruptAfterMs)
          return Effect.map(Effect.exit(awaitPending(r, fiber.id())), (exit) => ({ waited: true, exit }))
        }).pipe(Effect.provideService(Greeting, "hello"))
      )
    const sameThrough = async <A, E>(make: () => Effect.Effect<A, E, Greeting>, waited: boolean) => {
      const expected = await Effect.runPromiseExit(make().pipe(Effect.provideService(Greeting, "hello")))
      const got = await throughWaits(make())
      expect(got.waited).toBe(waited)
      expect(got.exit).toStrictEqual(expected)
    }

    it("gives the fiber's result through sleeps, async callbacks, promises, loops, yields, forks and failures", async () => {
      await sameThrough(() => Effect.succeed(1), false)
      await sameThrough(() => Effect.gen(function* () {
        yield* Effect.sleep("1 millis")
        const g = yield* Greeting
        const n = yield* Effect.promise(() => Promise.resolve(2))
        return `${g} ${n}`
      }), true)
      await sameThrough(() => Effect.matchCauseEffect(Effect.async<number, string>((resume) => void setTimeout(() => resume(Effect.fail("async")), 1)), { onFailure: () => Effect.succeed(0), onSuccess: Effect.succeed }), true)
      await sameThrough(() => Effect.async<number>((resume) => resume(Effect.succeed(3))), false)
      await sameThrough(() => Effect.forEach([1, 2, 3], (n) => Effect.as(Effect.sleep("1 millis"), n * 2)), true)
      await sameThrough(() => Effect.forEach([1, 2, 3], (n) => Effect.succeed(n + 1)), false)
      await sameThrough(() => Effect.flatMap(Effect.yieldNow(), () => Effect.succeed("after a yield")), true)
      await sameThrough(() => Effect.flatMap(Effect.fork(Effect.as(Effect.sleep("1 millis"), "child")), Fiber.join), true)
      await sameThrough(() => Effect.all([Effect.as(Effect.sleep("2 millis"), 1), Effect.as(Effect.sleep("1 millis"), 2)], { concurrency: 2 }), true)
      await sameThrough(() => Effect.zipRight(Effect.sleep("1 millis"), Effect.fail("late" as const)), true)
      await sameThrough(() => Effect.zipRight(Effect.sleep("1 millis"), Effect.die("boom")), true)
      await sameThrough(() => Effect.acquireUseRelease(Effect.succeed(1), (n) => Effect.as(Effect.sleep("1 millis"), n + 1), () => Effect.sleep("1 millis")), true)
      await sameThrough(() => Effect.timeout(Effect.as(Effect.sleep("1 millis"), "in time"), "1 second"), true)
    })

    it("abandons an interruptible wait when interrupted: its canceller and the finalizers run once, failure handlers do not", async () => {
      let cancelled = 0
      let finalized = 0
      let handled = 0
      const hangs = Effect.async<never>(() => Effect.sync(() => void cancelled++)).pipe(
        Effect.catchAllCause(() => Effect.sync(() => void handled++)),
        Effect.ensuring(Effect.sync(() => void finalized++))
      )
      const got = await throughWaits(hangs, 5)
      expect(got.waited).toBe(true)
      expect(Exit.isInterrupted(got.exit)).toBe(true)
      expect({ cancelled, finalized, handled }).toEqual({ cancelled: 1, finalized: 1, handled: 0 })
    })

    it("lets an uninterruptible region finish before the interruption takes effect", async () => {
      const steps: Array<string> = []
      const region = Effect.uninterruptible(Effect.zipRight(Effect.sleep("20 millis"), Effect.sync(() => void steps.push("region done"))))
      const after = Effect.zipRight(region, Effect.sync(() => void steps.push("after the region")))
      const got = await throughWaits(after, 5)
      expect(Exit.isInterrupted(got.exit)).toBe(true)
      expect(steps).toEqual(["region done"])
      const released: Array<string> = []
      const used = Effect.acquireUseRelease(Effect.succeed("r"), () => Effect.never, (r) => Effect.sync(() => void released.push(r)))
      expect(Exit.isInterrupted((await throughWaits(used, 5)).exit)).toBe(true)
      expect(released).toEqual(["r"])
    })

    it("raises an interruption that comes from within the evaluation at its next instruction, without hanging", async () => {
      let pending: Pending<unknown, unknown> | undefined
      let after = 0
      const selfInterrupting = Effect.zipRight(
        Effect.sleep("1 millis"),
        Effect.zipRight(Effect.async<void>((resume) => {
          pending!.interrupt(FiberId.none)
          resume(Effect.void)
        }), Effect.sync(() => void after++))
      )
      const exit = await Effect.runPromise(Effect.withFiberRuntime<Exit.Exit<unknown, unknown>>((fiber) => {
        const r = runFirst(selfInterrupting, fiber as never)
        if (Exit.isExit(r)) return Effect.succeed(r)
        pending = r
        return Effect.exit(awaitPending(r, fiber.id()))
      }))
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(after).toBe(0)
    })

    it("interrupts what a waiting evaluation forked when its own wait on it is abandoned", async () => {
      const ref = Ref.unsafeMake(0)
      const child = Effect.onInterrupt(Effect.never, () => Ref.update(ref, (n) => n + 1))
      const got = await throughWaits(Effect.flatMap(Effect.fork(child), (f) => Effect.onInterrupt(Fiber.join(f), () => Fiber.interrupt(f))), 5)
      expect(Exit.isInterrupted(got.exit)).toBe(true)
      expect(Effect.runSync(Ref.get(ref))).toBe(1)
    })
  })

  describe("cancellableAsync: Effect.async whose canceller runFirst runs itself", () => {
    /** Exit of `make()` on a fiber of its own, and through runFirst, each interrupted after `interruptAfterMs` if given. */
    const bothWays = async <A, E>(make: () => Effect.Effect<A, E>, interruptAfterMs?: number) => {
      const onFiber = await Effect.runPromise(
        Effect.flatMap(Effect.fork(make()), (f) =>
          interruptAfterMs === undefined ? Fiber.await(f) : Effect.zipRight(Effect.sleep(interruptAfterMs), Effect.zipRight(Fiber.interrupt(f), Fiber.await(f))))
      )
      const through = await Effect.runPromise(
        Effect.withFiberRuntime<Exit.Exit<A, E>>((fiber) => {
          const r = runFirst(make(), fiber as never)
          if (Exit.isExit(r)) return Effect.succeed(r)
          if (interruptAfterMs !== undefined) setTimeout(() => r.interrupt(fiber.id()), interruptAfterMs)
          return Effect.exit(awaitPending(r, fiber.id()))
        })
      )
      return { onFiber, through }
    }
    const counting = () => {
      const counts = { registered: 0, cancelled: 0 }
      const wait = <A, E>(answer?: (resume: (effect: Effect.Effect<A, E>) => void) => void, canceller: Effect.Effect<void> = Effect.sync(() => void counts.cancelled++)) =>
        cancellableAsync<A, E>((resume) => {
          counts.registered++
          answer?.(resume)
          return canceller
        })
      return { counts, wait }
    }

    it("is Effect.async on a fiber, and gives the same through runFirst: answered at once, later, failed or with an effect; the canceller unused", async () => {
      const answers: ReadonlyArray<(resume: (e: Effect.Effect<number, string>) => void) => void> = [
        (resume) => resume(Effect.succeed(1)),
        (resume) => void setTimeout(() => resume(Effect.succeed(2)), 1),
        (resume) => void setTimeout(() => resume(Effect.fail("no")), 1),
        (resume) => void setTimeout(() => resume(Effect.map(Effect.sleep("1 millis"), () => 3)), 1)
      ]
      for (const answer of answers) {
        const w = counting()
        const { onFiber, through } = await bothWays(() => w.wait(answer))
        expect(through).toStrictEqual(onFiber)
        expect(w.counts).toEqual({ registered: 2, cancelled: 0 })
      }
    })

    it("runs its canceller once when interrupted while waiting, or when resumed interrupted, as Effect.async's onInterrupt does", async () => {
      const hangs = counting()
      const { onFiber, through } = await bothWays(() => hangs.wait<never, never>(), 5)
      expect(Exit.isInterrupted(onFiber) && Exit.isInterrupted(through)).toBe(true)
      expect(hangs.counts).toEqual({ registered: 2, cancelled: 2 })
      const resumedInterrupted = counting()
      const both = await bothWays(() => resumedInterrupted.wait<never, never>((resume) => void setTimeout(() => resume(Effect.interrupt), 1)))
      expect(Exit.isInterrupted(both.onFiber) && Exit.isInterrupted(both.through)).toBe(true)
      expect(resumedInterrupted.counts).toEqual({ registered: 2, cancelled: 2 })
    })

    it("adds a failing canceller's failure after the interruption, and waits for a canceller that waits", async () => {
      const failing = counting()
      const { onFiber, through } = await bothWays(() => failing.wait<never, never>(undefined, Effect.die("cancel failed")), 5)
      expect(Cause.isDie(Exit.isFailure(through) ? through.cause : Cause.empty)).toBe(true)
      expect(Exit.isFailure(onFiber) && Exit.isFailure(through) && Cause.isInterrupted(onFiber.cause) && Cause.isInterrupted(through.cause)).toBe(true)
      const steps: Array<string> = []
      const slow = counting()
      await bothWays(() => slow.wait<never, never>(undefined, Effect.zipRight(Effect.sleep("5 millis"), Effect.sync(() => void steps.push("cancelled")))), 2)
      expect(steps).toEqual(["cancelled", "cancelled"])
      // Uninterruptible, as Effect.async's onInterrupt runs it: its own failure handlers run.
      const handled: Array<string> = []
      const recovering = counting()
      await bothWays(() => recovering.wait<never, never>(undefined, Effect.catchAll(Effect.fail("x"), () => Effect.sync(() => void handled.push("handled")))), 2)
      expect(handled).toEqual(["handled", "handled"])
    })

    it("in an uninterruptible region, is not cancelled: the interruption waits for its answer", async () => {
      const late = counting()
      const { onFiber, through } = await bothWays(() => Effect.uninterruptible(late.wait<number, never>((resume) => void setTimeout(() => resume(Effect.succeed(5)), 20))), 5)
      expect(Exit.isInterrupted(onFiber) && Exit.isInterrupted(through)).toBe(true)
      expect(late.counts).toEqual({ registered: 2, cancelled: 0 })
    })
  })
})
