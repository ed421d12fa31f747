import type { DeadLetter } from "@conveyor/nats"
import { Either, Option } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { parseTime, renderLetter, selection } from "../src/commands/dlq-view.js"

const letter = (subject: string, payload: string | Uint8Array): DeadLetter => ({
  sequence: 7,
  subject: "dlq.ORDER_EVENTS.orchestrator",
  payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
  headers: { "Conveyor-Error-Tag": "InvalidMessage" },
  originalSubject: subject,
  originalStream: "ORDER_EVENTS",
  originalSequence: 3,
  originalMessageId: "m-1",
  consumer: "orchestrator",
  errorTag: "InvalidMessage",
  errorMessage: "bad",
  reason: "permanent",
  attempts: 1,
  deadLetteredAt: new Date("2026-01-01T00:00:00Z")
})

const none = { subject: Option.none(), source: Option.none(), consumer: Option.none(), error: Option.none(), errorContains: Option.none(), since: Option.none(), until: Option.none() }
const now = new Date("2026-01-02T00:00:00Z")

describe("dead-letter views", () => {
  it("decodes an order event payload with the domain's decoder, saying why it fails", () => {
    const valid = JSON.stringify({ type: "StockReserved", version: 1, orderId: "o-1" })
    expect(renderLetter(letter("orders.events.stock-reserved", valid))).toContain("payload (52 bytes, JSON; StockReserved v1, valid)")
    const invalid = JSON.stringify({ type: "StockReserved", version: 9, orderId: "o-1" })
    expect(renderLetter(letter("orders.events.stock-reserved", invalid))).toMatch(/JSON; does not decode: .*version/)
  })

  it("shows text and binary payloads as they are", () => {
    expect(renderLetter(letter("other.subject", "plain words"))).toContain("payload (11 bytes, text, not JSON)\nplain words")
    expect(renderLetter(letter("other.subject", new Uint8Array([0xff, 0xfe])))).toContain("not UTF-8; base64)\n//4=")
  })

  it("reads times as ISO or as durations back from now", () => {
    expect(parseTime("since", "2h", now)).toEqual(Either.right(new Date("2026-01-01T22:00:00Z")))
    expect(parseTime("since", "7d", now)).toEqual(Either.right(new Date("2025-12-26T00:00:00Z")))
    expect(parseTime("until", "2026-01-01T12:00:00Z", now)).toEqual(Either.right(new Date("2026-01-01T12:00:00Z")))
    const bad = parseTime("since", "yesterday", now)
    expect(Either.isLeft(bad) && bad.left.exitCode).toBe(2)
  })

  it("an empty selection is empty; every flag narrows", () => {
    expect(Either.getOrThrow(selection(none, [], now)).empty).toBe(true)
    const s = Either.getOrThrow(selection({ ...none, subject: Option.some("orders.>"), error: Option.some("X") }, [3], now))
    expect(s).toMatchObject({ empty: false, filter: { originalSubject: "orders.>", errorTag: "X", sequences: [3] } })
  })
})
