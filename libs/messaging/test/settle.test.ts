import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { DeadLetterFailed, type DeadLetterRecord, type DeadLetterSink } from "../src/dead-letter.js"
import { makeRetryPolicy } from "../src/retry-policy.js"
import { settle } from "../src/internal/settle.js"
import { failed, type Outcome } from "../src/outcome.js"
import { fakeDelivery, processed } from "./fake-delivery.js"

const policy = makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 0 })

const recordingSink = (failing = false) => {
  const sent: Array<DeadLetterRecord> = []
  const sink: DeadLetterSink["Type"] = {
    send: (r) => (failing ? Effect.fail(new DeadLetterFailed({ reason: "no stream" })) : Effect.sync(() => void sent.push(r)))
  }
  return { sent, sink }
}

const settleOf = (outcome: Outcome, deliveryCount = 1, sink?: DeadLetterSink["Type"], ackFails = false) => {
  const d = fakeDelivery({}, { deliveryCount, ackFails })
  return Effect.runPromise(settle(d, outcome, policy, sink)).then((r) => ({ ...r, calls: d.calls }))
}

describe("settle", () => {
  it("acks processed messages and duplicates", async () => {
    expect(await settleOf(processed)).toMatchObject({ settlement: "acked", calls: [{ op: "ack" }] })
    expect(await settleOf({ _tag: "Duplicate", outputs: [] })).toMatchObject({ settlement: "duplicate", calls: [{ op: "ack" }] })
  })

  it("sends an ack that needs no reply at once, settling without running anything", () => {
    const d = fakeDelivery({}, { plainAcks: true })
    const settled = settle(d, processed, policy, undefined)
    expect(Effect.runSync(settled).settlement).toBe("acked")
    expect(d.calls).toEqual([{ op: "ack" }])
  })

  it("reports an unconfirmed ack without failing (the message may come back; idempotency absorbs it)", async () => {
    expect(await settleOf(processed, 1, undefined, true)).toMatchObject({ settlement: "acked", calls: [{ op: "ack" }] })
  })

  it("naks a retryable failure with the policy's delay for this delivery count", async () => {
    expect((await settleOf(failed("retry", "Blip", "x"), 1)).calls).toEqual([{ op: "nak", delayMs: 100 }])
    expect(await settleOf(failed("retry", "Blip", "x"), 2)).toMatchObject({ settlement: "retried", calls: [{ op: "nak", delayMs: 200 }] })
  })

  it("naks a deferred message with its own delay, whatever the count", async () => {
    expect(await settleOf({ _tag: "Deferred", delayMs: 777, reason: "store down" }, 9)).toMatchObject({
      settlement: "deferred",
      calls: [{ op: "nak", delayMs: 777 }]
    })
  })

  it("leaves a delivery that lost ownership alone", async () => {
    expect(await settleOf({ _tag: "LostOwnership" })).toMatchObject({ settlement: "abandoned", calls: [] })
  })

  it("copies a permanent failure to the sink, then terminates it", async () => {
    const { sent, sink } = recordingSink()
    const r = await settleOf(failed("dead-letter", "Rejected", "sku unknown"), 1, sink)
    expect(r.settlement).toBe("dead-lettered")
    expect(r.calls).toEqual([{ op: "term", reason: "dead-lettered: Rejected" }])
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ reason: "permanent", error: { tag: "Rejected", message: "sku unknown" } })
  })

  it("dead-letters a retryable failure on the last attempt as attempts-exhausted", async () => {
    const { sent, sink } = recordingSink()
    const r = await settleOf(failed("retry", "Blip", "x"), 3, sink)
    expect(r.calls.map((c) => c.op)).toEqual(["term"])
    expect(sent[0]).toMatchObject({ reason: "attempts-exhausted", error: { tag: "Blip" } })
  })

  it("naks instead of terminating when the dead-letter copy fails: never drops", async () => {
    const { sink } = recordingSink(true)
    const r = await settleOf(failed("dead-letter", "Rejected", "x"), 1, sink)
    expect(r).toMatchObject({ settlement: "dead-letter-failed", calls: [{ op: "nak", delayMs: 100 }] })
    // With the retry backoff, so an outage of the dead-letter stream is not a hot loop.
    expect((await settleOf(failed("retry", "Blip", "x"), 3, sink)).calls).toEqual([{ op: "nak", delayMs: 400 }])
  })

  it("terminates without a copy only when no sink is configured", async () => {
    const r = await settleOf(failed("dead-letter", "Rejected", "x"), 1, undefined)
    expect(r.settlement).toBe("dead-lettered")
    expect(r.calls.map((c) => c.op)).toEqual(["term"])
  })
})
