import { Either, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { approval } from "./approval-workflow.js"
import { apply, commandId, IllegalTransition, instanceEncoder, instanceJson, instanceSchema, outgoingEncoder, start, timerId } from "../src/index.js"

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

  it("encodes an outbox holding both commands and events as the Schema does, and decodes it back", () => {
    const encode = instanceEncoder(approval)
    const first = instance()
    const again = apply(approval, first, approval.timerEvent(first.timers[0]!), 2_000)
    if (Either.isLeft(again) || again.right._tag !== "Advanced") throw new Error("expected an advance")
    const expired = apply(approval, again.right.instance, approval.timerEvent(again.right.instance.timers[0]!), 3_000)
    if (Either.isLeft(expired) || expired.right._tag !== "Advanced") throw new Error("expected an advance")
    const i = expired.right.instance
    expect(i.outbox.map((o) => o.kind)).toEqual(["command", "command", "command", "event"])
    expect(encode(i)).toBe(Schema.encodeSync(Json)(i))
    expect(Schema.decodeUnknownSync(Json)(encode(i))).toEqual(i)
  })

  it("decodes an instance stored before commands and events were told apart: each unmarked outbox entry is what its message decodes as", () => {
    const stored = {
      workflow: "approval", workflowId: "w1", state: { _tag: "Approved" }, terminal: true, transitions: 2, createdAt: 1_000, updatedAt: 2_000,
      timers: [],
      history: [
        { seq: 1, event: "Requested", to: "Pending", at: 1_000, causationId: "m", commands: [{ id: "w1:1:0", type: "Ask" }] },
        { seq: 2, event: "Approve", from: "Pending", to: "Approved", at: 2_000, causationId: "n", commands: [{ id: "w1:2:0", type: "Decided" }] }
      ],
      outbox: [
        { id: "w1:1:0", message: { type: "Ask", id: "w1", attempt: 1 } },
        { id: "w1:2:0", message: { type: "Decided", id: "w1", outcome: "approved" } }
      ]
    }
    const i = Schema.decodeUnknownSync(Json)(JSON.stringify(stored))
    expect(i.outbox).toEqual([
      { id: "w1:1:0", kind: "command", message: { type: "Ask", id: "w1", attempt: 1 } },
      { id: "w1:2:0", kind: "event", message: { type: "Decided", id: "w1", outcome: "approved" } }
    ])
    // History is kept as it was written: an old entry lists what it emitted among its commands.
    expect(i.history.map((h) => [h.commands.map((c) => c.type), h.events])).toEqual([[["Ask"], []], [["Decided"], []]])
    // Written back, it takes the new shape.
    expect(JSON.parse(instanceEncoder(approval)(i)).outbox.map((o: { kind: string }) => o.kind)).toEqual(["command", "event"])
    const unknown = { ...stored, outbox: [{ id: "w1:3:0", message: { type: "Nope", id: "w1" } }] }
    expect(Either.isLeft(Schema.decodeUnknownEither(Json)(JSON.stringify(unknown)))).toBe(true)
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

  it("encodes an outbox message once per message object: the publish after the instance write reuses the result", () => {
    const i = instance()
    const entry = i.outbox[0]!
    const encode = outgoingEncoder(approval)
    expect(outgoingEncoder(approval)).toBe(encode)
    const first = encode(entry)
    expect(Either.getOrThrow(first)).toEqual(Schema.encodeSync(approval.command)(entry.message as never))
    expect(encode({ ...entry })).toBe(first)
    // Another message object with the same content is encoded on its own.
    expect(encode({ ...entry, message: { ...entry.message } } as typeof entry)).not.toBe(first)
  })
})
