import { Cause, Effect, Either, Schedule } from "effect"
import { dispositionOf, type TaggedFailure } from "./disposition.js"
import { decodePayload, makeHandlerContext, type MessageHandler } from "./handler.js"
import type { RetryPolicy } from "./retry-policy.js"
import { failed, type Outcome, type Step } from "./step.js"

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/**
 * The innermost step: decode with the handler's Schema (a failure is permanent), run the handler,
 * and turn its typed failure into an outcome through its disposition map. Defects count as
 * retryable. Quick in-process retries, when the policy has them, apply to retryable errors only.
 */
export const handlerStep = <A, I, E extends TaggedFailure, R>(
  handler: MessageHandler<A, I, E, R>,
  policy: RetryPolicy
): Step<R> => (delivery) => {
  const decoded = decodePayload(handler.schema, delivery.subject, delivery.payload)
  if (Either.isLeft(decoded)) return Effect.succeed(failed("dead-letter", decoded.left._tag, decoded.left.message))
  const context = makeHandlerContext(delivery)
  const run = Effect.suspend(() => handler.handle(decoded.right, context))
  const retried =
    policy.inProcessRetries === 0
      ? run
      : run.pipe(
          Effect.retry({
            times: policy.inProcessRetries,
            schedule: Schedule.spaced(policy.inProcessDelayMs),
            while: (e) => dispositionOf(handler.errors, e) === "retry"
          })
        )
  return retried.pipe(
    Effect.map((outputs): Outcome => ({ _tag: "Processed", outputs: outputs ?? [] })),
    Effect.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value
        return Effect.succeed(failed(dispositionOf(handler.errors, error), error._tag, describe(error)))
      }
      if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
      return Effect.succeed(failed("retry", "Defect", Cause.pretty(cause).split("\n")[0] ?? "defect"))
    })
  )
}
