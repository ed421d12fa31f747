import { type ConsumerSpans, consumerSpans, markProcessingFailed, recordDeadLetter, recordRetry } from "@conveyor/telemetry"
import { Effect, Option } from "effect"
import { DeadLetterHeaders } from "../dead-letter.js"
import type { Delivery } from "../delivery.js"
import type { DeliveryResult, Middleware } from "../middleware.js"
import type { FailureInfo, Outcome } from "../outcome.js"

/**
 * A failure as the span helpers expect it: `_tag` becomes `error.type`, the message
 * `exception.message`. The stack is the handler's own error's (or the defect's) when there is one,
 * so the recorded stack trace points at the code that failed rather than here.
 */
const asError = (info: FailureInfo): Error =>
  Object.assign(
    new Error(info.message),
    { _tag: info.tag, name: info.tag },
    info.cause instanceof Error && info.cause.stack !== undefined ? { stack: info.cause.stack } : {}
  )

const failureOf = (outcome: Outcome): Error =>
  outcome._tag === "Failed"
    ? asError(outcome.error)
    : outcome._tag === "Deferred"
      ? asError({ tag: "Deferred", message: outcome.reason })
      : asError({ tag: outcome._tag, message: outcome._tag })

/**
 * Puts the settlement on the consumer span: a retry is a `retry_scheduled` event with the delay, a
 * dead letter a `dead_lettered` event with the error; both (and a lost or failed copy) end the span
 * with status ERROR although the runtime handled them.
 */
const recordSettlement = (delivery: Delivery, { instruction, outcome, settlement }: DeliveryResult): Effect.Effect<void> => {
  switch (settlement) {
    case "acked":
    case "duplicate":
      // Put on the span as it ends (settlementAttributes): no Effect per message for the common case.
      return Effect.void
    case "deferred":
      // Not the message's fault (claim held elsewhere, store down): no error status.
      return Effect.annotateCurrentSpan({
        "conveyor.deferred.reason": outcome._tag === "Deferred" ? outcome.reason : "",
        "conveyor.retry.delay_ms": instruction._tag === "Nak" ? instruction.delayMs : 0
      })
    case "retried":
      return recordRetry(failureOf(outcome), { delayMillis: instruction._tag === "Nak" ? instruction.delayMs : 0, deliveryCount: delivery.deliveryCount })
    case "dead-lettered":
      return recordDeadLetter(failureOf(outcome), {
        deliveryCount: delivery.deliveryCount,
        reason: instruction._tag === "DeadLetter" ? instruction.reason : undefined
      })
    case "dead-letter-failed":
    case "abandoned":
      return markProcessingFailed(failureOf(outcome))
  }
}

const settlementAttributes = ({ settlement }: DeliveryResult): Readonly<Record<string, unknown>> =>
  settlement === "duplicate" ? { "conveyor.settlement": settlement, "conveyor.duplicate": true } : { "conveyor.settlement": settlement }

/** A replayed dead letter names the message it replays (its trace link comes from `consumerSpan`). */
const replayAttributes = (delivery: Delivery): Record<string, string> | undefined => {
  const of = delivery.headers[DeadLetterHeaders.replayOf]
  return of === undefined ? undefined : { "conveyor.replay_of": of }
}

/**
 * Opens the CONSUMER span `process <subject>` around the handling of one delivery and its
 * settlement: the parent comes from the message's `traceparent` (a new trace when it is missing or
 * broken), a replay links to its original trace, and everything the handler publishes carries this
 * span's context. Each delivery is its own span, numbered by its delivery count. Without a tracer
 * installed there is no span, and nothing to add: the runner then runs every delivery in the
 * context its headers carry (internal/delivery-state.ts). Which of the two is decided once, as the
 * consumer starts (the runner decides the same way: `consumerSpans`).
 */
export const tracing: Effect.Effect<Middleware> = Effect.map(consumerSpans, (spans) => (Option.isSome(spans) ? traced(spans.value) : untraced))

const untraced: Middleware = (next) => next

/** The span opens before the handler function is called: it covers the handler's own work too. */
const traced =
  (spans: ConsumerSpans): Middleware =>
  (next) =>
  (delivery) =>
    spans(
      {
        subject: delivery.subject,
        headers: delivery.headers,
        attributes: {
          messageId: delivery.messageId,
          consumerGroup: delivery.consumer,
          deliveryCount: delivery.deliveryCount,
          stream: delivery.stream,
          streamSequence: delivery.streamSequence,
          bodySize: delivery.payload.length,
          extra: replayAttributes(delivery)
        }
      },
      () =>
        Effect.flatMap(next(delivery), (result) =>
          result.settlement === "acked" || result.settlement === "duplicate" ? Effect.succeed(result) : Effect.as(recordSettlement(delivery, result), result)
        ),
      settlementAttributes
    )
