import { Effect, Either } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { timeoutFailOnceWaiting } from "../src/index.js"

// Pure logic (no broker): the request-path timeout the gateway bounds its broker calls with.
const bounded = <A, E>(effect: Effect.Effect<A, E>, ms: number) =>
  Effect.runPromise(Effect.either(timeoutFailOnceWaiting(effect, ms, () => "timed out" as const)))

describe("timeoutFailOnceWaiting", () => {
  it("passes through a result and a typed failure, waited for or not", async () => {
    expect(await bounded(Effect.succeed(1), 1)).toEqual(Either.right(1))
    expect(await bounded(Effect.fail("refused" as const), 1)).toEqual(Either.left("refused"))
    expect(await bounded(Effect.as(Effect.sleep("5 millis"), 2), 1_000)).toEqual(Either.right(2))
    expect(await bounded(Effect.zipRight(Effect.sleep("5 millis"), Effect.fail("refused" as const)), 1_000)).toEqual(Either.left("refused"))
  })

  it("fails with onTimeout() and interrupts what still waits at the limit", async () => {
    let interrupted = 0
    const hangs = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted++)))
    expect(await bounded(hangs, 20)).toEqual(Either.left("timed out"))
    expect(interrupted).toBe(1)
  })
})
