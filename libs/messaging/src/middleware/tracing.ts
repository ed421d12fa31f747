import { type ConsumerSpans, consumerSpans, continueTrace, markProcessingFailed, recordDeadLetter, recordRetry } from "@conveyor/telemetry"
import { Effect, Option } from "effect"
import { DeadLetterHeaders } from "../dead-letter.js"
import type { Delivery } from "../delivery.js"
import type { DeliveryInterceptor } from "../runner.js"
import type { Settled } from "../settle.js"
import type { FailureInfo, Outcome } from "../step.js"
import { andThen, isDone } from "../sync-first.js"

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
const recordSettlement = (delivery: Delivery, { action, outcome, settlement }: Settled): Effect.Effect<void> => {
  switch (settlement) {
    case "acked":
    case "duplicate":
      // Put on the span as it ends (settlementAttributes): no Effect per message for the common case.
      return Effect.void
    case "deferred":
      // Not the message's fault (claim held elsewhere, store down): no error status.
      return Effect.annotateCurrentSpan({
        "conveyor.deferred.reason": outcome._tag === "Deferred" ? outcome.reason : "",
        "conveyor.retry.delay_ms": action._tag === "Nak" ? action.delayMs : 0
      })
    case "retried":
      return recordRetry(failureOf(outcome), { delayMillis: action._tag === "Nak" ? action.delayMs : 0, deliveryCount: delivery.deliveryCount })
    case "dead-lettered":
      return recordDeadLetter(failureOf(outcome), {
        deliveryCount: delivery.deliveryCount,
        reason: action._tag === "DeadLetter" ? action.reason : undefined
      })
    case "dead-letter-failed":
    case "abandoned":
      return markProcessingFailed(failureOf(outcome))
  }
}

const settlementAttributes = ({ settlement }: Settled): Readonly<Record<string, unknown>> =>
  settlement === "duplicate" ? { "conveyor.settlement": settlement, "conveyor.duplicate": true } : { "conveyor.settlement": settlement }

/** A replayed dead letter names the message it replays (its trace link comes from `consumerSpan`). */
const replayAttributes = (delivery: Delivery): Record<string, string> | undefined => {
  const of = delivery.headers[DeadLetterHeaders.replayOf]
  return of === undefined ? undefined : { "conveyor.replay_of": of }
}

/**
 * Opens the CONSUMER span `process <subject>` around one delivery, its middlewares and its
 * settlement: the parent comes from the message's `traceparent` (a new trace when it is missing or
 * broken), a replay links to its original trace, and everything the handler publishes carries this
 * span's context. Each delivery is its own span, numbered by its delivery count. Without a tracer
 * installed there is no span: the delivery runs in the context its headers carry (`continueTrace`).
 * Which of the two is decided once, as the consumer starts (an Effect the runner runs then).
 */
export const tracing: Effect.Effect<DeliveryInterceptor> = Effect.map(consumerSpans, (spans) => (Option.isSome(spans) ? traced(spans.value) : passTraceContext))

/** Without a tracer: the incoming context for whatever still has to run (a completed delivery has nothing left). */
const passTraceContext: DeliveryInterceptor = (delivery, process) => {
  const processed = process()
  return isDone(processed) ? processed : continueTrace(delivery.headers)(processed)
}

/**
 * The span opens before `process` is called (it covers the handler function, not only the Effect it
 * returns); a delivery settled synchronously and acked ends it at once, anything else is recorded
 * with the span current.
 */
const traced =
  (spans: ConsumerSpans): DeliveryInterceptor =>
  (delivery, process) =>
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
        andThen(process(), (settled) =>
          settled.settlement === "acked" || settled.settlement === "duplicate" ? Effect.succeed(settled) : Effect.as(recordSettlement(delivery, settled), settled)
        ),
      settlementAttributes
    )
