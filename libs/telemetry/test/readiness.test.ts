import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeReadiness } from "../src/index.js"

describe("Readiness", () => {
  it.scoped("a required check fails until it is registered and again once its scope closes", () =>
    Effect.gen(function* () {
      const readiness = yield* makeReadiness({ required: ["nats-connected"] })
      const before = yield* readiness.report
      expect(before).toEqual({ ready: false, checks: [{ name: "nats-connected", ok: false, error: "not started" }] })
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* readiness.register("nats-connected", Effect.succeed(true))
          expect((yield* readiness.report).ready).toBe(true)
        })
      )
      expect((yield* readiness.report).ready).toBe(false)
    }))
})
