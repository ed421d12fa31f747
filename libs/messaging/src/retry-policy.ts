import { Schema } from "effect"

/**
 * Per-consumer retry policy. Retries are redeliveries (`nak` with a delay computed from the
 * delivery count), so a crash mid-retry loses nothing: the broker holds the schedule.
 */
export const RetryPolicy = Schema.Struct({
  /** Deliveries in all, the first included. */
  maxAttempts: Schema.Number.pipe(Schema.int(), Schema.between(1, 1_000)),
  initialDelayMs: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  maxDelayMs: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  multiplier: Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)),
  /** 0..1: the delay is drawn from [d·(1-jitter), d]. */
  jitter: Schema.Number.pipe(Schema.between(0, 1)),
  /** Quick in-process retries within one delivery, for blips (0 = none). */
  inProcessRetries: Schema.Number.pipe(Schema.int(), Schema.between(0, 10)),
  inProcessDelayMs: Schema.Number.pipe(Schema.int(), Schema.nonNegative())
})
export type RetryPolicy = typeof RetryPolicy.Type

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0.2,
  inProcessRetries: 0,
  inProcessDelayMs: 50
}

export const makeRetryPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy =>
  Schema.decodeUnknownSync(RetryPolicy)({ ...defaultRetryPolicy, ...overrides })

/**
 * Delay before the next delivery after `deliveryCount` failed ones. `random` in [0,1) is a
 * parameter so the function stays pure and testable.
 */
export const backoffDelay = (policy: RetryPolicy, deliveryCount: number, random: number): number => {
  const exponent = Math.max(0, deliveryCount - 1)
  const raw = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** exponent)
  return Math.round(raw * (1 - policy.jitter * random))
}

/**
 * Upper bound of the time from first delivery until the last attempt is settled: every
 * attempt may take the whole ack wait and every gap the largest backoff. The idempotency TTL must
 * be at least this, or a late redelivery could run the side effect again.
 */
export const redeliveryWindowMs = (policy: RetryPolicy, ackWaitMs: number): number => {
  let total = ackWaitMs * policy.maxAttempts
  for (let n = 1; n < policy.maxAttempts; n++) total += backoffDelay(policy, n, 0)
  return total
}
