import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { dispositionOf } from "../src/disposition.js"
import { defineHandler } from "../src/handler.js"

class Blip extends Schema.TaggedError<Blip>()("Blip", {}) {}
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {}) {}

const handle = (): Effect.Effect<void, Blip | Rejected> => Effect.void

describe("DispositionMap", () => {
  it("rejects, at compile time, a handler whose error union has an unmapped tag (typecheck enforces these lines)", () => {
    const complete = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry", Rejected: "dead-letter" } })
    // @ts-expect-error: 'Rejected' is not mapped to a disposition
    const missing = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry" } })
    // @ts-expect-error: 'Nonexistent' is not an error this handler can fail with
    const extra = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry", Rejected: "retry", Nonexistent: "retry" } })
    // @ts-expect-error: not a disposition
    const wrong = defineHandler({ schema: Schema.Unknown, handle, errors: { Blip: "retry", Rejected: "ignore" } })
    expect([complete, missing, extra, wrong].length).toBe(4)
  })

  it("treats an undeclared tag met at run time as a defect: retry", () => {
    expect(dispositionOf<Blip>({ Blip: "dead-letter" }, { _tag: "Other" } as unknown as Blip)).toBe("retry")
    expect(dispositionOf<Blip>({ Blip: () => ({ postponeMs: 5 }) }, new Blip())).toEqual({ postponeMs: 5 })
  })
})
