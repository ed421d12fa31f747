import { Effect } from "effect"
import { AckFailed, type Delivery } from "../src/delivery.js"

/** What the runtime told the broker about one fake delivery, in order. */
export type BrokerCall = { readonly op: "ack" } | { readonly op: "nak"; readonly delayMs: number } | { readonly op: "term"; readonly reason: string } | { readonly op: "working" }

const utf8 = new TextEncoder()

/**
 * A Delivery that records the dispositions it is given. Not a broker: it only lets pure runtime
 * logic (settle, middlewares, runner) be checked for what it would tell one.
 */
export const fakeDelivery = (
  payload: unknown,
  overrides: Partial<Omit<Delivery, "ack" | "nak" | "term" | "working" | "ackNow">> & {
    readonly ackFails?: boolean
    /** Acks need no confirmation: `ackNow` sends them (as a JetStream delivery with plain acks does). */
    readonly plainAcks?: boolean
  } = {}
): Delivery & { readonly calls: Array<BrokerCall> } => {
  const calls: Array<BrokerCall> = []
  const { ackFails, plainAcks, ...rest } = overrides
  const messageId = rest.messageId ?? "m-1"
  return {
    subject: "orders.placed",
    payload: payload instanceof Uint8Array ? payload : utf8.encode(JSON.stringify(payload)),
    headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    messageId,
    stream: "ORDERS",
    consumer: "worker",
    streamSequence: 42,
    deliveryCount: 1,
    publishedAt: new Date(0),
    ...rest,
    calls,
    ack: Effect.suspend(() => {
      calls.push({ op: "ack" })
      return ackFails === true ? Effect.fail(new AckFailed({ messageId, reason: "timeout" })) : Effect.void
    }),
    nak: (delayMs) => Effect.sync(() => void calls.push({ op: "nak", delayMs })),
    term: (reason) => Effect.sync(() => void calls.push({ op: "term", reason })),
    working: Effect.sync(() => void calls.push({ op: "working" })),
    ...(plainAcks === true ? { ackNow: () => (calls.push({ op: "ack" }), true) } : {})
  }
}

export const processed = { _tag: "Processed", outputs: [] } as const

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
