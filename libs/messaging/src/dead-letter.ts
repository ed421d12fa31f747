import { ORIGINAL_TRACEPARENT_HEADER } from "@conveyor/telemetry"
import { Context, Data, type Effect } from "effect"
import type { FailureInfo } from "./outcome.js"
import type { Delivery } from "./delivery.js"

/** Headers a dead letter carries beside the original payload and headers. */
export const DeadLetterHeaders = {
  errorTag: "Conveyor-Error-Tag",
  errorMessage: "Conveyor-Error-Message",
  reason: "Conveyor-Dead-Letter-Reason",
  attempts: "Conveyor-Attempts",
  originalSubject: "Conveyor-Original-Subject",
  originalStream: "Conveyor-Original-Stream",
  originalSequence: "Conveyor-Original-Sequence",
  originalMessageId: "Conveyor-Original-Message-Id",
  consumer: "Conveyor-Consumer",
  deadLetteredAt: "Conveyor-Dead-Lettered-At",
  /** The original trace context, kept so a replay can link back to it. */
  originalTraceparent: ORIGINAL_TRACEPARENT_HEADER,
  replayOf: "Conveyor-Replay-Of",
  /** On a replay sent to the failed durable's replay subject: the subject it is handled as. */
  replayOfSubject: "Conveyor-Replay-Of-Subject"
} as const

export interface DeadLetterRecord {
  readonly delivery: Delivery
  readonly reason: "permanent" | "attempts-exhausted"
  readonly error: FailureInfo
}

export class DeadLetterFailed extends Data.TaggedError("DeadLetterFailed")<{ readonly reason: string }> {}

/** Where dead letters go. Only after `send` succeeds may the original be terminated. */
export class DeadLetterSink extends Context.Tag("@conveyor/messaging/DeadLetterSink")<
  DeadLetterSink,
  { readonly send: (record: DeadLetterRecord) => Effect.Effect<void, DeadLetterFailed> }
>() {}

/** Header values stay single-line and bounded: they travel in every dead letter. */
const headerValue = (value: string, max = 1_024): string => value.replace(/[\r\n]+/g, " ").slice(0, max)

/** The headers of a dead letter: the original ones plus where it came from and why it failed. */
export const deadLetterHeaders = (record: DeadLetterRecord, now: Date): Record<string, string> => {
  const d = record.delivery
  const headers: Record<string, string> = {}
  // The server's own headers stay behind: a stored `Nats-Expected-Stream` or `Nats-Expected-Last-*`
  // would make the dead-letter stream refuse the copy (and the message would be nak'ed forever),
  // and `Nats-Msg-Id` is replaced by the dead letter's own id.
  for (const [k, v] of Object.entries(d.headers)) if (!/^nats-/i.test(k)) headers[k] = v
  headers[DeadLetterHeaders.errorTag] = headerValue(record.error.tag, 256)
  headers[DeadLetterHeaders.errorMessage] = headerValue(record.error.message)
  headers[DeadLetterHeaders.reason] = record.reason
  headers[DeadLetterHeaders.attempts] = String(d.deliveryCount)
  headers[DeadLetterHeaders.originalSubject] = d.subject
  headers[DeadLetterHeaders.originalStream] = d.stream
  headers[DeadLetterHeaders.originalSequence] = String(d.streamSequence)
  headers[DeadLetterHeaders.originalMessageId] = d.messageId
  headers[DeadLetterHeaders.consumer] = d.consumer
  headers[DeadLetterHeaders.deadLetteredAt] = now.toISOString()
  const traceparent = d.headers["traceparent"]
  if (traceparent !== undefined) headers[DeadLetterHeaders.originalTraceparent] = traceparent
  return headers
}
