import { currentBaggage, remoteContext } from "@conveyor/telemetry"
import { Context, type Fiber, FiberRef, FiberRefs, HashMap, Tracer } from "effect"
import type { Delivery } from "../delivery.js"
import { updateFiberRefs } from "./effect-adapter.js"

/**
 * What a delivery's handling sees of its worker's fiber besides the worker's own state: log
 * annotations naming the message, and the trace context its headers carry (the remote parent as
 * the current span, so what it publishes continues the trace and its log lines carry the trace id;
 * incoming baggage as current), as `continueTrace` would put it in.
 *
 * Set on the worker's fiber and not restored afterwards: each delivery's state is derived from the
 * worker's state as the worker started (`workerBase`), never from the previous delivery's, and
 * replaces it. Effect.annotateLogs and Effect.withParentSpan restore what they change, with an
 * acquire/release region and two copies of the fiber's FiberRefs each, per message: about an
 * eighth of what the order workflow allocated.
 */
export interface WorkerBase {
  readonly annotations: HashMap.HashMap<string, unknown>
  readonly context: Context.Context<never>
  readonly baggage: Readonly<Record<string, string>>
}

export const workerBase = (fiber: Fiber.RuntimeFiber<unknown, unknown>): WorkerBase => ({
  annotations: fiber.getFiberRef(FiberRef.currentLogAnnotations),
  context: fiber.getFiberRef(FiberRef.currentContext),
  baggage: fiber.getFiberRef(currentBaggage)
})

/**
 * Puts `delivery`'s state on the worker's fiber in place of the last delivery's: one copy of its
 * FiberRefs. `withTraceContext` false: annotations only (a consumer span carries the context).
 */
export const enterDelivery = (fiber: Fiber.RuntimeFiber<unknown, unknown>, base: WorkerBase, delivery: Delivery, withTraceContext: boolean): void => {
  const id = fiber.id()
  const remote = withTraceContext ? remoteContext(delivery.headers) : undefined
  const parent: Tracer.ExternalSpan | undefined = remote?.parent._tag === "Some" ? remote.parent.value : undefined
  const baggage = remote === undefined || Object.keys(remote.baggage).length === 0 ? base.baggage : { ...base.baggage, ...remote.baggage }
  updateFiberRefs(fiber, (refs) =>
    FiberRefs.updateManyAs(refs, {
      entries: [
        [FiberRef.currentLogAnnotations, [[id, HashMap.set(HashMap.set(base.annotations, "messageId", delivery.messageId), "subject", delivery.subject)]]],
        [FiberRef.currentContext, [[id, parent === undefined ? base.context : Context.add(base.context, Tracer.ParentSpan, parent)]]],
        [currentBaggage, [[id, baggage]]]
      ]
    }))
}
