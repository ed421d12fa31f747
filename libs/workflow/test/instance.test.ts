import { Either, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { approval } from "./approval-workflow.js"
import { apply, commandId, IllegalTransition, instanceEncoder, instanceJson, instanceSchema, start, timerId } from "../src/index.js"

const instance = () => {
  const r = start(approval, { type: "Requested", id: "w1" }, 1_000, { causationId: "m" })
  if (Either.isLeft(r)) throw r.left
  return r.right.instance
}

describe("instance encoding", () => {
  const Json = instanceJson(approval)

  it("round-trips through JSON text", () => {
    const i = instance()
    const text = Schema.encodeSync(Json)(i)
    expect(typeof text).toBe("string")
    expect(Schema.decodeUnknownSync(Json)(text)).toEqual(i)
  })

  it("rejects a stored value whose state does not match the definition", () => {
    const bad = { ...Schema.encodeSync(instanceSchema(approval))(instance()), state: { _tag: "Nope" } }
    expect(Either.isLeft(Schema.decodeUnknownEither(instanceSchema(approval))(bad))).toBe(true)
  })

  it("encodes an instance the engine built to the same text as the Schema, and still rejects a state the definition does not allow", () => {
    const encode = instanceEncoder(approval)
    const first = instance()
    const next = apply(approval, first, { type: "Approve", id: "w1" }, 2_000, { causationId: "n", traceId: "t" })
    if (Either.isLeft(next)) throw next.left
    for (const i of [first, next.right.instance]) expect(encode(i)).toBe(Schema.encodeSync(Json)(i))
    expect(() => encode({ ...first, state: { _tag: "Nope" } as never })).toThrow()
  })

  it("rejects text that is not JSON", () => {
    expect(Either.isLeft(Schema.decodeUnknownEither(Json)("{"))).toBe(true)
  })
})

describe("ids", () => {
  it("are stable, and timer ids never collide with command ids", () => {
    expect(commandId("o-1", 3, 0)).toBe("o-1:3:0")
    expect(timerId("o-1", 3, "reserve")).toBe("o-1:3:timer:reserve")
    expect(timerId("o-1", 3, "0")).not.toBe(commandId("o-1", 3, 0))
  })
})

describe("IllegalTransition", () => {
  it("reads well with and without an instance id", () => {
    const e = new IllegalTransition({ workflow: "order", state: "Completed", event: "StockReserved", reason: "finished" })
    expect(e.message).toBe("order: event StockReserved is not allowed in state Completed: finished")
    expect(new IllegalTransition({ ...e, workflowId: "o-1", workflow: "order", state: "S", event: "E", reason: "r" }).message)
      .toBe("order o-1: event E is not allowed in state S: r")
    expect(e._tag).toBe("IllegalTransition")
  })
})
