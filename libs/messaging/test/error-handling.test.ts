import { Effect, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { errorHandlingOf } from "../src/error-handling.js"
import { defineHandler } from "../src/handler.js"

class Blip extends Schema.TaggedError<Blip>()("Blip", {}) {}
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {}) {}

const handle = (): Effect.Effect<void, Blip | Rejected> => Effect.void

describe("ErrorHandlingMap", () => {
  it("rejects, at compile time, a handler whose error union has an unmapped tag (typecheck enforces these lines)", () => {
    const complete = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry", Rejected: "dead-letter" } })
    // @ts-expect-error: 'Rejected' is not mapped to a handling
    const missing = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry" } })
    // @ts-expect-error: 'Nonexistent' is not an error this handler can fail with
    const extra = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry", Rejected: "retry", Nonexistent: "retry" } })
    // @ts-expect-error: not a handling
    const wrong = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry", Rejected: "ignore" } })
    expect([complete, missing, extra, wrong].length).toBe(4)
  })

  it("treats an undeclared tag met at run time as a defect: retry", () => {
    expect(errorHandlingOf<Blip>({ Blip: "dead-letter" }, { _tag: "Other" } as unknown as Blip)).toBe("retry")
    expect(errorHandlingOf<Blip>({ Blip: () => ({ postponeMs: 5 }) }, new Blip())).toEqual({ postponeMs: 5 })
  })
})
