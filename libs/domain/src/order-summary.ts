import type { Instance } from "@conveyor/workflow"
import type { OrderCommand, OrderOutcome, Step } from "./messages.js"
import type { OrderState, OrderStateTag } from "./order-workflow.js"

/** What the gateway shows and the demo counts, derived from a stored instance alone. */
export interface OrderSummary {
  readonly orderId: string
  readonly status: "in-progress" | "completed" | "cancelled"
  readonly state: OrderStateTag
  /** Commands re-sent because their step timed out (as far back as the kept history reaches). */
  readonly retries: number
  /** Compensating steps completed before cancelling; non-empty means work was undone. */
  readonly compensations: ReadonlyArray<Step>
  readonly reason?: string
}

export const summarizeOrder = (instance: Instance<OrderState, OrderCommand, OrderOutcome>): OrderSummary => {
  const { state } = instance
  const retries = instance.history.filter((h) => h.event === "StepTimedOut" && h.from === h.to).length
  const base = { orderId: instance.workflowId, state: state._tag, retries }
  switch (state._tag) {
    case "Completed": return { ...base, status: "completed", compensations: [] }
    case "Cancelled": return { ...base, status: "cancelled", compensations: state.compensations, reason: state.reason }
    case "RecallingShipment": return { ...base, status: "in-progress", compensations: [], reason: state.reason }
    case "RefundingPayment": return { ...base, status: "in-progress", compensations: state.compensations, reason: state.reason }
    case "ReleasingStock": return { ...base, status: "in-progress", compensations: state.compensations, reason: state.reason }
    default: return { ...base, status: "in-progress", compensations: [] }
  }
}
