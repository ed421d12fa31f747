import { Cause, Effect, Either, Schedule } from "effect"
import { errorHandlingOf, type TaggedFailure } from "../error-handling.js"
import { makeHandlerContext, payloadDecoder, type MessageHandler } from "../handler.js"
import type { OutgoingMessage } from "../outgoing.js"
import type { RetryPolicy } from "../retry-policy.js"
import { failed, type Outcome } from "../outcome.js"
import { timeoutOnceWaiting } from "./timeout-once-waiting.js"
import type { ProcessDelivery } from "./stage.js"

const noOutputs: ReadonlyArray<OutgoingMessage> = []

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/**
 * The innermost stage: decode with the handler's Schema (a failure is permanent), run the handler,
 * and turn its typed failure into an outcome through its error map. Defects count as
 * retryable. Quick in-process retries, when the policy has them, apply to retryable errors only.
 * The handler function is called as the returned Effect runs, inside every stage and middleware.
 */
export const runHandler = <A, I, E extends TaggedFailure, R>(
  handler: MessageHandler<A, I, E, R>,
  policy: RetryPolicy,
  /**
   * A handler still running after this long is interrupted and its delivery retried with backoff,
   * like a retryable failure (tag `HandlerTimeout`): heartbeats would otherwise keep a hung
   * handler's message forever. Undefined: no limit.
   */
  timeoutMs?: number
): ProcessDelivery<R> => {
  const decode = payloadDecoder(handler.schema)
  const toOutcome = (cause: Cause.Cause<E>): Effect.Effect<Outcome> => {
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const error = failure.value
      return Effect.succeed(failed(errorHandlingOf(handler.errors, error), error._tag, describe(error), error))
    }
    if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
    return Effect.succeed(failed("retry", "Defect", Cause.pretty(cause).split("\n")[0] ?? "defect", Cause.squash(cause)))
  }
  return (delivery) =>
    Effect.suspend(() => {
      const decoded = decode(delivery.subject, delivery.payload)
      if (Either.isLeft(decoded)) return Effect.succeed(failed("dead-letter", decoded.left._tag, decoded.left.message))
      const context = makeHandlerContext(delivery)
      // Suspended: a throw from the handler function is a defect, and each in-process retry calls it again.
      const run = Effect.suspend(() => handler.handle(decoded.right, context))
      const retried =
        policy.inProcessRetries === 0
          ? run
          : Effect.retry(run, {
              times: policy.inProcessRetries,
              schedule: Schedule.spaced(policy.inProcessDelayMs),
              while: (e) => errorHandlingOf(handler.errors, e) === "retry"
            })
      const outcome = Effect.matchCauseEffect(retried, {
        onSuccess: (outputs): Effect.Effect<Outcome> => Effect.succeed({ _tag: "Processed", outputs: outputs ?? noOutputs }),
        onFailure: toOutcome
      })
      return timeoutMs === undefined
        ? outcome
        : timeoutOnceWaiting(outcome, timeoutMs, (): Outcome => failed("retry", "HandlerTimeout", `handler still running after ${timeoutMs} ms: interrupted`))
    })
}
