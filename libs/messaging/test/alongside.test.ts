import { Effect, Exit, Supervisor } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { startAlongside } from "../src/index.js"

// Pure logic (no broker): the runtime's "start now, await later" without a forked fiber.
describe("startAlongside", () => {
  it("starts at once, lets the caller go on meanwhile, and gives the result when awaited, forking no fiber", async () => {
    const steps: Array<string> = []
    const supervisor = await Effect.runPromise(Supervisor.track)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const waiting = yield* startAlongside(Effect.gen(function* () {
          steps.push("alongside started")
          yield* Effect.sleep("10 millis")
          steps.push("alongside done")
          return 42
        }))
        steps.push("caller goes on")
        yield* Effect.sleep("1 millis")
        steps.push("caller waits")
        return yield* waiting
      }).pipe(Effect.supervised(supervisor))
    )
    expect(result).toBe(42)
    expect(steps).toEqual(["alongside started", "caller goes on", "caller waits", "alongside done"])
    expect((await Effect.runPromise(supervisor.value)).length).toBe(0)
    // With Effect.fork, a supervisor sees the forked fiber (so the assertion above can fail).
    const forked = await Effect.runPromise(Effect.flatMap(Supervisor.track, (s) =>
      Effect.flatMap(Effect.fork(Effect.sleep("20 millis")).pipe(Effect.supervised(s)), () => s.value)))
    expect(forked.length).toBe(1)
  })

  it("gives a failure as the awaited Effect's failure, and a result that needed no waiting as it is", async () => {
    const failed = await Effect.runPromiseExit(Effect.flatten(startAlongside(Effect.zipRight(Effect.sleep("1 millis"), Effect.fail("boom" as const)))))
    expect(failed).toStrictEqual(Exit.fail("boom"))
    expect(await Effect.runPromise(Effect.flatten(startAlongside(Effect.succeed("now"))))).toBe("now")
  })
})
