import { Cause, Effect, Either, Schedule } from "effect"
import { dispositionOf, type TaggedFailure } from "./disposition.js"
import { makeHandlerContext, payloadDecoder, type MessageHandler } from "./handler.js"
import type { OutgoingMessage } from "./outgoing.js"
import type { RetryPolicy } from "./retry-policy.js"
import { failed, type Outcome, type Step } from "./step.js"
import { isDone } from "./sync-first.js"

const noOutputs: ReadonlyArray<OutgoingMessage> = []

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/**
 * The innermost step: decode with the handler's Schema (a failure is permanent), run the handler,
 * and turn its typed failure into an outcome through its disposition map. Defects count as
 * retryable. Quick in-process retries, when the policy has them, apply to retryable errors only.
 *
 * The handler function is called when the step is (the Effect it returns runs inside the
 * middlewares as before): a handler that returns a completed Effect (`Effect.void`, `Effect.succeed`)
 * yields a completed outcome, which keeps the whole delivery synchronous (sync-first.ts).
 */
export const handlerStep = <A, I, E extends TaggedFailure, R>(
  handler: MessageHandler<A, I, E, R>,
  policy: RetryPolicy,
  /**
   * A handler still running after this long is interrupted and its delivery retried with backoff,
   * like a retryable failure (tag `HandlerTimeout`): heartbeats would otherwise keep a hung
   * handler's message forever. Undefined: no limit.
   */
  timeoutMs?: number
): Step<R> => {
  const decode = payloadDecoder(handler.schema)
  const toOutcome = (cause: Cause.Cause<E>): Effect.Effect<Outcome> => {
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const error = failure.value
      return Effect.succeed(failed(dispositionOf(handler.errors, error), error._tag, describe(error), error))
    }
    if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
    return Effect.succeed(failed("retry", "Defect", Cause.pretty(cause).split("\n")[0] ?? "defect", Cause.squash(cause)))
  }
  return (delivery) => {
    const decoded = decode(delivery.subject, delivery.payload)
    if (Either.isLeft(decoded)) return Effect.succeed(failed("dead-letter", decoded.left._tag, decoded.left.message))
    const context = makeHandlerContext(delivery)
    // As Effect.suspend would: a throw from the handler function is a defect.
    const call = (): Effect.Effect<ReadonlyArray<OutgoingMessage> | void, E, R> => {
      try {
        return handler.handle(decoded.right, context)
      } catch (e) {
        return Effect.die(e)
      }
    }
    const first = call()
    if (isDone(first)) return Effect.succeed({ _tag: "Processed", outputs: first.value ?? noOutputs })
    let calls = 0
    // Each retry calls the handler again; the first attempt runs the Effect already made.
    const retried =
      policy.inProcessRetries === 0
        ? first
        : Effect.suspend(() => (calls++ === 0 ? first : call())).pipe(
            Effect.retry({
              times: policy.inProcessRetries,
              schedule: Schedule.spaced(policy.inProcessDelayMs),
              while: (e) => dispositionOf(handler.errors, e) === "retry"
            })
          )
    const outcome = retried.pipe(
      Effect.map((outputs): Outcome => ({ _tag: "Processed", outputs: outputs ?? noOutputs })),
      Effect.catchAllCause(toOutcome)
    )
    return timeoutMs === undefined
      ? outcome
      : Effect.timeoutTo(outcome, {
          duration: timeoutMs,
          onSuccess: (o): Outcome => o,
          onTimeout: (): Outcome => failed("retry", "HandlerTimeout", `handler still running after ${timeoutMs} ms: interrupted`)
        })
  }
}
