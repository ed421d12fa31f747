import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { encodeMessage, utf8Bytes } from "../src/outgoing.js"

describe("outgoing messages", () => {
  it("utf8Bytes gives TextEncoder's bytes, multi-byte characters and lone surrogates included", () => {
    for (const text of ["", "ascii", "é€😀 ünïcödé", "\ud800 lone surrogate", "x".repeat(10_000)]) {
      expect(Array.from(utf8Bytes(text))).toEqual(Array.from(new TextEncoder().encode(text)))
    }
  })

  it("encodeMessage validates with the schema and carries the JSON as UTF-8", () => {
    const Greeting = Schema.Struct({ text: Schema.String, n: Schema.Int })
    const message = Effect.runSync(encodeMessage(Greeting, "greetings", { text: "héllo", n: 1 }, { msgId: "m-1" }))
    expect(message.subject).toBe("greetings")
    expect(message.msgId).toBe("m-1")
    expect(JSON.parse(new TextDecoder().decode(message.payload))).toEqual({ text: "héllo", n: 1 })
    expect(Effect.runSync(Effect.flip(encodeMessage(Greeting, "greetings", { text: "x", n: 1.5 })))._tag).toBe("EncodeError")
  })
})
