import { Either, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { sampleCommands, sampleEvents } from "./samples.js"
import {
  decodeCommand, decodeEvent, type DecodeError, encodeCommand, encodeEvent,
  InvalidMessage, MalformedMessage, OrderCommandMessage, type OrderEvent, OrderEventMessage, UnknownMessageType,
  UnknownMessageVersion
} from "../src/index.js"
import { commandRegistry, eventRegistry } from "../src/messages.js"

const failure = (r: Either.Either<unknown, DecodeError>): DecodeError => {
  if (Either.isRight(r)) throw new Error("expected a decode failure")
  return r.left
}

describe("round trips", () => {
  it("cover every registered event and command type", () => {
    expect(sampleEvents.map((e) => e.type).sort()).toEqual(Object.keys(eventRegistry).sort())
    expect(sampleCommands.map((c) => c.type).sort()).toEqual(Object.keys(commandRegistry).sort())
  })

  it.each(sampleEvents)("event $type from text, bytes and a parsed object", (event) => {
    const text = encodeEvent(event)
    expect(decodeEvent(text)).toEqual(Either.right(event))
    expect(decodeEvent(new TextEncoder().encode(text))).toEqual(Either.right(event))
    expect(decodeEvent(JSON.parse(text))).toEqual(Either.right(event))
  })

  it.each(sampleCommands)("command $type", (command) => {
    expect(decodeCommand(encodeCommand(command))).toEqual(Either.right(command))
  })

  it("encoding refuses an invalid message", () => {
    expect(() => encodeEvent({ ...sampleEvents[1]!, orderId: "bad id" } as OrderEvent)).toThrow(/orderId/)
  })

  it("drops unknown extra fields rather than failing (forward compatible within a version)", () => {
    expect(decodeEvent({ ...sampleEvents[1]!, extra: true })).toEqual(Either.right(sampleEvents[1]))
  })
})

describe("malformed", () => {
  it.each([
    ["not JSON", "{nope", /not JSON/],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), /not JSON/],
    ["null", "null", /expected a JSON object, got null/],
    ["an array", "[1]", /got an array/],
    ["a number", 42, /got number/],
    ["a string literal", "\"hi\"", /got string/],
    ["no type", { version: 1, orderId: "o" }, /missing string field "type"/],
    ["a numeric type", { type: 7, version: 1 }, /missing string field "type"/]
  ])("%s", (_name, input, message) => {
    const e = failure(decodeEvent(input))
    expect(e).toBeInstanceOf(MalformedMessage)
    expect(e.message).toMatch(message)
    expect(e.message).toMatch(/^malformed event/)
  })
})

describe("unknown type", () => {
  it("names the type and lists the known ones", () => {
    const e = failure(decodeEvent({ type: "OrderShipped", version: 1 }))
    expect(e).toBeInstanceOf(UnknownMessageType)
    expect(e).toMatchObject({ family: "event", type: "OrderShipped" })
    expect(e.message).toMatch(/^unknown event type "OrderShipped" \(known: OrderPlaced, /)
  })

  it("does not confuse a command for an event or prototype keys for types", () => {
    expect(failure(decodeEvent(sampleCommands[0]))).toBeInstanceOf(UnknownMessageType)
    expect(failure(decodeCommand(sampleEvents[0]))).toMatchObject({ _tag: "UnknownMessageType", family: "command" })
    expect(failure(decodeEvent({ type: "constructor", version: 1 }))).toBeInstanceOf(UnknownMessageType)
    expect(failure(decodeEvent({ type: "toString", version: 1 }))).toBeInstanceOf(UnknownMessageType)
  })
})

describe("unknown version", () => {
  it.each([[2], ["1"], [undefined], [1.5], [null]])("version %j", (version) => {
    const e = failure(decodeEvent({ ...sampleEvents[1]!, version }))
    expect(e).toBeInstanceOf(UnknownMessageVersion)
    expect(e).toMatchObject({ type: "StockReserved", known: [1] })
    expect(e.message).toMatch(/^unknown version .* of event StockReserved \(known: 1\)$/)
  })
})

describe("schema-invalid", () => {
  it("names the failing field path", () => {
    const placed = sampleEvents[0] as Extract<OrderEvent, { type: "OrderPlaced" }>
    const e = failure(decodeEvent({ ...placed, items: [{ sku: "apple", quantity: -1, unitPriceCents: 150 }] }))
    expect(e).toBeInstanceOf(InvalidMessage)
    const invalid = e as InvalidMessage
    expect(invalid).toMatchObject({ family: "event", type: "OrderPlaced", version: 1 })
    expect(invalid.issues[0]!.path).toBe("items.0.quantity")
    expect(invalid.message).toMatch(/^invalid event OrderPlaced v1: items\.0\.quantity: /)
  })

  it("reports every failing field, including a missing one", () => {
    const e = failure(decodeCommand({ type: "CapturePayment", version: 1, orderId: "o-1", attempt: 0, amountCents: 1.5 })) as InvalidMessage
    expect(e.issues.map((i) => i.path).sort()).toEqual(["amountCents", "attempt", "customerId"])
    expect(e.message).toMatch(/customerId: is missing/)
  })

  it("reports a cross-field rule at its field", () => {
    const e = failure(decodeEvent({ ...sampleEvents[0]!, totalCents: 1 })) as InvalidMessage
    expect(e.issues).toEqual([{ path: "totalCents", message: "must equal the sum of the items (300)" }])
  })
})

describe("as a Schema", () => {
  it("decodes like the decoder and reports its message", () => {
    expect(Schema.decodeUnknownSync(OrderEventMessage)(sampleEvents[2])).toEqual(sampleEvents[2])
    expect(Schema.decodeUnknownSync(OrderCommandMessage)(sampleCommands[0])).toEqual(sampleCommands[0])
    expect(() => Schema.decodeUnknownSync(OrderEventMessage)({ type: "StockReserved", version: 9, orderId: "o" }))
      .toThrow(/unknown version 9 of event StockReserved/)
    expect(() => Schema.decodeUnknownSync(OrderCommandMessage)({ ...sampleCommands[0]!, attempt: 0 })).toThrow(/attempt/)
  })

  it("encodes back to the plain message", () => {
    expect(Schema.encodeSync(OrderEventMessage)(sampleEvents[0]!)).toEqual(sampleEvents[0])
  })
})
