import { Effect, Exit, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { defineHandler } from "../src/handler.js"
import { runHandler } from "../src/internal/run-handler.js"
import { makeRetryPolicy } from "../src/retry-policy.js"
import { fakeDelivery } from "./fake-delivery.js"

class Blip extends Schema.TaggedError<Blip>()("Blip", {}) {}
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}
class NotYet extends Schema.TaggedError<NotYet>()("NotYet", {}) {}
class Graded extends Schema.TaggedError<Graded>()("Graded", { fatal: Schema.Boolean }) {}

const Order = Schema.Struct({ id: Schema.String, quantity: Schema.Number.pipe(Schema.int(), Schema.positive()) })
type Failure = Blip | Rejected | NotYet | Graded

const makeHandler = (behaviour: (runs: number) => Effect.Effect<void, Failure>) => {
  const runs = { count: 0 }
  const handler = defineHandler({
    schema: Order,
    handle: (order, ctx) =>
      Effect.zipRight(
        Effect.suspend(() => behaviour(++runs.count)),
        Effect.map(ctx.message(Order, "orders.next", order, "next"), (m) => [m])
      ),
    errors: { Blip: "retry", Rejected: "dead-letter", NotYet: { postponeMs: 2_000 }, Graded: (e) => (e.fatal ? "dead-letter" : "retry"), EncodeError: "dead-letter" }
  })
  return { runs, handler }
}

const policy = makeRetryPolicy({ maxAttempts: 3 })
const valid = { id: "o-1", quantity: 2 }
const run = (h: ReturnType<typeof makeHandler>["handler"], payload: unknown = valid, p = policy) => Effect.runPromise(runHandler(h, p)(fakeDelivery(payload)))

describe("runHandler", () => {
  it("decodes, runs the handler and returns its outputs with ids derived from the incoming id", async () => {
    const { handler } = makeHandler(() => Effect.void)
    const outcome = await run(handler)
    expect(outcome._tag).toBe("Processed")
    if (outcome._tag !== "Processed") return
    expect(outcome.outputs.map((o) => [o.subject, o.msgId])).toEqual([["orders.next", "m-1>next"]])
    expect(JSON.parse(new TextDecoder().decode(outcome.outputs[0]!.payload))).toEqual(valid)
  })

  it("maps each declared error to its handling, including a function of the error", async () => {
    const cases: Array<[Failure, unknown]> = [
      [new Blip(), "retry"],
      [new Rejected({ reason: "sku unknown" }), "dead-letter"],
      [new NotYet(), { postponeMs: 2_000 }],
      [new Graded({ fatal: true }), "dead-letter"],
      [new Graded({ fatal: false }), "retry"]
    ]
    for (const [error, handling] of cases) {
      const { handler } = makeHandler(() => Effect.fail(error))
      expect(await run(handler)).toMatchObject({ _tag: "Failed", handling, error: { tag: error._tag } })
    }
  })

  it.each([
    ["malformed JSON", new TextEncoder().encode("{not json")],
    ["bytes that are not UTF-8", new Uint8Array([0xff, 0xfe, 0x00])],
    ["a payload the schema rejects", { id: "o-1", quantity: -1 }],
    ["an unknown event shape", { type: "OrderTeleported", version: 9 }]
  ])("treats %s as permanent without running the handler", async (_, payload) => {
    const { runs, handler } = makeHandler(() => Effect.void)
    const outcome = await run(handler, payload)
    expect(outcome).toMatchObject({ _tag: "Failed", handling: "dead-letter", error: { tag: "DecodeFailure" } })
    expect(runs.count).toBe(0)
  })

  it("counts a defect as retryable", async () => {
    const { handler } = makeHandler(() => Effect.die(new Error("null pointer")))
    expect(await run(handler)).toMatchObject({ _tag: "Failed", handling: "retry", error: { tag: "Defect" } })
  })

  it("retries retryable errors in process when the policy allows, without a redelivery", async () => {
    const { runs, handler } = makeHandler((n) => (n < 3 ? Effect.fail(new Blip()) : Effect.void))
    const outcome = await run(handler, valid, makeRetryPolicy({ inProcessRetries: 2, inProcessDelayMs: 1 }))
    expect(outcome._tag).toBe("Processed")
    expect(runs.count).toBe(3)
  })

  it("gives up in process after the allowed retries, and never retries a permanent error in process", async () => {
    const p = makeRetryPolicy({ inProcessRetries: 2, inProcessDelayMs: 1 })
    const flaky = makeHandler(() => Effect.fail(new Blip()))
    expect(await run(flaky.handler, valid, p)).toMatchObject({ _tag: "Failed", handling: "retry" })
    expect(flaky.runs.count).toBe(3)
    const rejected = makeHandler(() => Effect.fail(new Rejected({ reason: "no" })))
    expect(await run(rejected.handler, valid, p)).toMatchObject({ _tag: "Failed", handling: "dead-letter" })
    expect(rejected.runs.count).toBe(1)
  })

  it("lets interruption through instead of calling it a failure", async () => {
    const { handler } = makeHandler(() => Effect.interrupt)
    const exit = await Effect.runPromiseExit(runHandler(handler, policy)(fakeDelivery(valid)))
    expect(Exit.isInterrupted(exit)).toBe(true)
  })

  it("calls the handler function only when its Effect runs", () => {
    let calls = 0
    const handler = defineHandler({ schema: Order, handle: () => Effect.sync(() => void calls++), errors: {} })
    const outcome = runHandler(handler, policy)(fakeDelivery(valid))
    expect(calls).toBe(0)
    expect(Effect.runSync(outcome)).toEqual({ _tag: "Processed", outputs: [] })
    expect(calls).toBe(1)
  })

  it("calls the handler function once per attempt: the first attempt runs the Effect it already returned", async () => {
    let calls = 0
    const handler = defineHandler({
      schema: Order,
      handle: () => {
        calls++
        return calls < 3 ? Effect.fail(new Blip()) : Effect.void
      },
      errors: { Blip: "retry" }
    })
    const outcome = await Effect.runPromise(runHandler(handler, makeRetryPolicy({ inProcessRetries: 2, inProcessDelayMs: 1 }))(fakeDelivery(valid)))
    expect(outcome._tag).toBe("Processed")
    expect(calls).toBe(3)
  })

  it("counts a throw from the handler function as a defect", async () => {
    const handler = defineHandler({
      schema: Order,
      handle: (): Effect.Effect<void> => {
        throw new Error("thrown before any Effect")
      },
      errors: {}
    })
    expect(await Effect.runPromise(runHandler(handler, policy)(fakeDelivery(valid)))).toMatchObject({
      _tag: "Failed",
      handling: "retry",
      error: { tag: "Defect" }
    })
  })
})
