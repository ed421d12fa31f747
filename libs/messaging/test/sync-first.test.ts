import { Effect, Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import { andThen, isDone, mapNow, tapNow } from "../src/sync-first.js"

describe("sync-first combinators", () => {
  it("recognise only a succeeded Exit as done: not a failure, a suspended Effect, an Either or an Option", () => {
    expect(isDone(Effect.succeed(1))).toBe(true)
    expect(isDone(Effect.void)).toBe(true)
    expect(isDone(Effect.fail("no"))).toBe(false)
    expect(isDone(Effect.sync(() => 1))).toBe(false)
    expect(isDone(Effect.suspend(() => Effect.succeed(1)))).toBe(false)
    // Either and Option are Effects too, with tags of their own.
    expect(isDone(Either.right(1))).toBe(false)
    expect(isDone(Option.some(1))).toBe(false)
  })

  it("continue a done Effect at once, without running anything", () => {
    let called = 0
    const next = andThen(Effect.succeed(2), (n) => {
      called++
      return Effect.succeed(n * 10)
    })
    expect(called).toBe(1)
    expect(isDone(next) && next.value).toBe(20)
    const mapped = mapNow(Effect.succeed(3), (n) => n + 1)
    expect(isDone(mapped) && mapped.value).toBe(4)
  })

  it("defer to flatMap and map otherwise, with the same result when run", async () => {
    let called = 0
    const pending = Effect.sync(() => 5)
    const next = andThen(pending, (n) => {
      called++
      return Effect.succeed(n * 10)
    })
    expect(called).toBe(0)
    expect(isDone(next)).toBe(false)
    expect(await Effect.runPromise(next)).toBe(50)
    expect(called).toBe(1)
    expect(await Effect.runPromise(mapNow(pending, (n) => n + 1))).toBe(6)
    expect(await Effect.runPromiseExit(mapNow(Effect.fail("e"), (n: number) => n + 1))).toMatchObject({ _tag: "Failure" })
  })

  it("tapNow sees the value and keeps the very same Exit when done, the value otherwise", async () => {
    const seen: Array<number> = []
    const done = Effect.succeed(7)
    expect(tapNow(done, (n) => seen.push(n))).toBe(done)
    expect(seen).toEqual([7])
    const later = tapNow(Effect.sync(() => 8), (n) => seen.push(n))
    expect(seen).toEqual([7])
    expect(await Effect.runPromise(later)).toBe(8)
    expect(seen).toEqual([7, 8])
  })
})
