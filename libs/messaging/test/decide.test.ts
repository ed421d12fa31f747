import { describe, expect, it } from "@effect/vitest"
import { decide, exhaustedBeforeRun } from "../src/internal/decide.js"
import { backoffDelay, makeRetryPolicy, redeliveryWindowMs } from "../src/retry-policy.js"
import { failed } from "../src/outcome.js"

const policy = makeRetryPolicy({ maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0 })

describe("decide", () => {
  it("acks processed and duplicate messages at any delivery count", () => {
    for (const n of [1, 4, 99]) {
      expect(decide({ _tag: "Processed", outputs: [] }, n, policy)).toEqual({ _tag: "Ack" })
      expect(decide({ _tag: "Duplicate", outputs: [] }, n, policy)).toEqual({ _tag: "Ack" })
    }
  })

  it("naks a retryable failure with a delay that grows with the delivery count, capped", () => {
    const delays = [1, 2, 3].map((n) => decide(failed("retry", "Blip", "x"), n, policy))
    expect(delays).toEqual([
      { _tag: "Nak", delayMs: 100 },
      { _tag: "Nak", delayMs: 200 },
      { _tag: "Nak", delayMs: 400 }
    ])
    expect(backoffDelay(policy, 10, 0)).toBe(1_000)
  })

  it("dead-letters when the attempts run out, and a permanent failure at once", () => {
    expect(decide(failed("retry", "Blip", "x"), 4, policy)).toMatchObject({ _tag: "DeadLetter", reason: "attempts-exhausted" })
    expect(decide(failed("dead-letter", "Bad", "x"), 1, policy)).toMatchObject({ _tag: "DeadLetter", reason: "permanent", error: { tag: "Bad" } })
  })

  it("postpones with the fixed delay until the attempts run out", () => {
    expect(decide(failed({ postponeMs: 5_000 }, "Wait", "x"), 1, policy)).toEqual({ _tag: "Nak", delayMs: 5_000 })
    expect(decide(failed({ postponeMs: 5_000 }, "Wait", "x"), 4, policy)._tag).toBe("DeadLetter")
  })

  it("defers without judging the message, and abandons a delivery that lost ownership", () => {
    expect(decide({ _tag: "Deferred", delayMs: 250, reason: "store down" }, 9, policy)).toEqual({ _tag: "Nak", delayMs: 250 })
    expect(decide({ _tag: "LostOwnership" }, 1, policy)).toEqual({ _tag: "Abandon" })
  })

  it("applies jitter within [d·(1-j), d]", () => {
    const jittery = makeRetryPolicy({ initialDelayMs: 1_000, jitter: 0.5 })
    expect(backoffDelay(jittery, 1, 0)).toBe(1_000)
    expect(backoffDelay(jittery, 1, 0.999)).toBeGreaterThanOrEqual(500)
  })

  it("flags deliveries past the policy before the handler runs", () => {
    expect(exhaustedBeforeRun(4, policy)).toBe(false)
    expect(exhaustedBeforeRun(5, policy)).toBe(true)
  })

  it("bounds the redelivery window by ack wait × attempts + backoff", () => {
    expect(redeliveryWindowMs(policy, 1_000)).toBe(4_000 + 100 + 200 + 400)
  })
})
