import type { FailureInfo, Outcome } from "../outcome.js"
import { backoffDelay, type RetryPolicy } from "../retry-policy.js"

/** What to tell the broker: `decide` picks it, `settle` sends it. */
export type BrokerInstruction =
  | { readonly _tag: "Ack" }
  | { readonly _tag: "Nak"; readonly delayMs: number }
  | { readonly _tag: "DeadLetter"; readonly reason: "permanent" | "attempts-exhausted"; readonly error: FailureInfo }
  | { readonly _tag: "Abandon" }

/**
 * Ack, nak with a delay, or dead-letter: a pure function of the outcome, the delivery count and
 * the policy. `random` feeds the jitter.
 */
const ack: BrokerInstruction = { _tag: "Ack" }

export const decide = (outcome: Outcome, deliveryCount: number, policy: RetryPolicy, random = 0.5): BrokerInstruction => {
  switch (outcome._tag) {
    case "Processed":
    case "Duplicate":
      return ack
    case "Deferred":
      return { _tag: "Nak", delayMs: outcome.delayMs }
    case "LostOwnership":
      return { _tag: "Abandon" }
    case "Failed": {
      const d = outcome.handling
      if (d === "dead-letter") return { _tag: "DeadLetter", reason: "permanent", error: outcome.error }
      if (deliveryCount >= policy.maxAttempts) {
        return { _tag: "DeadLetter", reason: "attempts-exhausted", error: outcome.error }
      }
      if (d === "retry") return { _tag: "Nak", delayMs: backoffDelay(policy, deliveryCount, random) }
      return { _tag: "Nak", delayMs: d.postponeMs }
    }
  }
}

/**
 * Checked before the handler runs: a message delivered more often than the policy allows (it
 * crashed the process each time, or a server restart replayed it past MaxDeliver, nats-server
 * #3361) is dead-lettered without running the handler again.
 */
export const exhaustedBeforeRun = (deliveryCount: number, policy: RetryPolicy): boolean =>
  deliveryCount > policy.maxAttempts
