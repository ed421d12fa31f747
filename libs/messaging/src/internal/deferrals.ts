import type { Effect } from "effect"
import type { AckFailed, Delivery } from "../delivery.js"
import type { Settlement } from "../outcome.js"

/** A delivery judged on another delivery count: every other member is the original's, asked of it when used. */
class RecountedDelivery implements Delivery {
  constructor(
    private readonly original: Delivery,
    readonly deliveryCount: number
  ) {}
  get subject(): string {
    return this.original.subject
  }
  get payload(): Uint8Array {
    return this.original.payload
  }
  get headers(): Readonly<Record<string, string>> {
    return this.original.headers
  }
  get messageId(): string {
    return this.original.messageId
  }
  get stream(): string {
    return this.original.stream
  }
  get consumer(): string {
    return this.original.consumer
  }
  get streamSequence(): number {
    return this.original.streamSequence
  }
  get publishedAt(): Date {
    return this.original.publishedAt
  }
  get ack(): Effect.Effect<void, AckFailed> {
    return this.original.ack
  }
  nak(delayMs: number): Effect.Effect<void> {
    return this.original.nak(delayMs)
  }
  term(reason: string): Effect.Effect<void> {
    return this.original.term(reason)
  }
  get working(): Effect.Effect<void> {
    return this.original.working
  }
  ackNow(): boolean {
    return this.original.ackNow?.() ?? false
  }
}

/**
 * Counts, per stored message, the deliveries this process deferred (idempotency claim held
 * elsewhere or store unavailable, outputs not published). Those are redeliveries through no fault
 * of the message, so they must not use up its attempts: without this, an idempotency-store outage
 * longer than `maxAttempts` deliveries would dead-letter every message that arrived meanwhile.
 * In memory and bounded (oldest forgotten first): a message deferred by another instance, or
 * before a restart, is judged on its raw delivery count, which errs toward dead-lettering early,
 * never toward losing it.
 */
export const makeDeferralCounter = (maxEntries = 10_000) => {
  const counts = new Map<string, number>()
  const keyOf = (d: Delivery) => `${d.stream}:${d.streamSequence}`
  return {
    /** The delivery as the policy should judge it: its count less the deferrals seen here. */
    adjust: (d: Delivery): Delivery => {
      // Nearly always empty: skip building a key per message then.
      if (counts.size === 0) return d
      const n = counts.get(keyOf(d))
      return n === undefined ? d : new RecountedDelivery(d, Math.max(1, d.deliveryCount - n))
    },
    record: (d: Delivery, settlement: Settlement): void => {
      if (counts.size === 0 && settlement !== "deferred") return
      const key = keyOf(d)
      if (settlement === "deferred") {
        const n = (counts.get(key) ?? 0) + 1
        counts.delete(key)
        counts.set(key, n)
        if (counts.size > maxEntries) counts.delete(counts.keys().next().value as string)
      } else if (settlement !== "abandoned") {
        counts.delete(key)
      }
    },
    size: () => counts.size
  }
}
