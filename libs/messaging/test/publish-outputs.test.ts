import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { publishOutputs } from "../src/internal/stages/publish-outputs.js"
import type { OutgoingMessage } from "../src/outgoing.js"
import { NoStreamForSubject, PayloadTooLarge, type PublishError, PublishFailed, StreamFull } from "../src/publish-error.js"
import type { Publisher } from "../src/publisher.js"
import { failed, type Outcome } from "../src/outcome.js"
import { fakeDelivery } from "./fake-delivery.js"

const out = (label: string): OutgoingMessage => ({ subject: `orders.${label}`, payload: new Uint8Array([1]), msgId: `m-1>${label}` })

/** Records what would be published; fails every publish with `failing` when given. */
const recordingPublisher = (failing?: PublishError) => {
  const sent: Array<string> = []
  const publisher: Publisher["Type"] = {
    publish: (m) => Effect.sync(() => (sent.push(m.msgId ?? ""), { stream: "S", seq: sent.length, duplicate: false })),
    publishAll: (messages) =>
      failing !== undefined
        ? Effect.fail(failing)
        : Effect.sync(() => [...messages].map((m) => (sent.push(m.msgId ?? ""), { stream: "S", seq: sent.length, duplicate: false })))
  }
  return { sent, publisher }
}

const through = (publisher: Publisher["Type"], outcome: Outcome) =>
  Effect.runPromise(publishOutputs({ publisher, retryDelayMs: 300 })(() => Effect.succeed(outcome))(fakeDelivery({})))

describe("publishOutputs", () => {
  it("publishes a processed message's outputs, in order, before it is acked", async () => {
    const { sent, publisher } = recordingPublisher()
    const outcome: Outcome = { _tag: "Processed", outputs: [out("a"), out("b")] }
    expect(await through(publisher, outcome)).toBe(outcome)
    expect(sent).toEqual(["m-1>a", "m-1>b"])
  })

  it("re-publishes a duplicate's recorded outputs (their ids make it a no-op downstream)", async () => {
    const { sent, publisher } = recordingPublisher()
    await through(publisher, { _tag: "Duplicate", outputs: [out("a")] })
    expect(sent).toEqual(["m-1>a"])
  })

  it("defers the message when publishing fails for a while (no PubAck, stream full), so the redelivery publishes again", async () => {
    for (const error of [new PublishFailed({ subject: "orders.x", reason: "no PubAck", retryable: true }), new StreamFull({ subject: "orders.x", detail: "maximum messages exceeded" })]) {
      const outcome = await through(recordingPublisher(error).publisher, { _tag: "Processed", outputs: [out("a")] })
      expect(outcome).toMatchObject({ _tag: "Deferred", delayMs: 300 })
      expect(outcome._tag === "Deferred" && outcome.reason).toMatch(/publishing outputs failed/)
    }
  })

  it("fails the message when waiting cannot fix the publish: retried against its attempts, or dead-lettered when too large", async () => {
    const cases: Array<[PublishError, string]> = [
      [new NoStreamForSubject({ subject: "orders.x" }), "retry"],
      [new PublishFailed({ subject: "orders.x", reason: "permissions violation", retryable: false }), "retry"],
      [new PayloadTooLarge({ subject: "orders.x", size: 2_000_000, detail: "max_payload" }), "dead-letter"]
    ]
    for (const [error, handling] of cases) {
      const outcome = await through(recordingPublisher(error).publisher, { _tag: "Duplicate", outputs: [out("a")] })
      expect(outcome).toMatchObject({ _tag: "Failed", handling, error: { tag: error._tag } })
    }
  })

  it("publishes nothing for failures, deferrals or empty outputs", async () => {
    const { sent, publisher } = recordingPublisher()
    for (const o of [failed("retry", "Blip", "x"), { _tag: "Deferred", delayMs: 1, reason: "x" } as const, { _tag: "Processed", outputs: [] } as const]) {
      expect(await through(publisher, o)).toBe(o)
    }
    expect(sent).toEqual([])
  })
})
