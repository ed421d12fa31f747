import { type Applied, type Instance, type Outgoing, step } from "@conveyor/workflow"
import { Either } from "effect"
import type { IllegalTransition } from "@conveyor/workflow"
import type { OrderCommand, OrderOutcome, OrderState, Step } from "../src/index.js"
import type { OrderWorkflowEvent } from "../src/order-workflow.js"
import { makeOrderWorkflow, type OrderWorkflowConfigInput } from "../src/index.js"

export const T0 = 1_700_000_000_000
export const ORDER = "o-1"
export const items = [{ sku: "apple", quantity: 2, unitPriceCents: 150 }, { sku: "pear", quantity: 1, unitPriceCents: 99 }]

export const ev = {
  placed: (): OrderWorkflowEvent => ({
    type: "OrderPlaced", version: 1, orderId: ORDER, customerId: "c-1", items, totalCents: 399, placedAt: "2026-01-01T00:00:00Z"
  }),
  reserved: (): OrderWorkflowEvent => ({ type: "StockReserved", version: 1, orderId: ORDER }),
  rejected: (reason = "out of stock"): OrderWorkflowEvent => ({ type: "StockRejected", version: 1, orderId: ORDER, reason }),
  captured: (paymentId = "p-1"): OrderWorkflowEvent => ({ type: "PaymentCaptured", version: 1, orderId: ORDER, paymentId, amountCents: 399 }),
  declined: (reason = "card expired"): OrderWorkflowEvent => ({ type: "PaymentDeclined", version: 1, orderId: ORDER, reason }),
  scheduled: (): OrderWorkflowEvent => ({ type: "ShipmentScheduled", version: 1, orderId: ORDER, trackingId: "t-1" }),
  released: (): OrderWorkflowEvent => ({ type: "StockReleased", version: 1, orderId: ORDER }),
  recalled: (trackingId?: string): OrderWorkflowEvent => ({
    type: "ShipmentRecalled", version: 1, orderId: ORDER, ...(trackingId === undefined ? {} : { trackingId })
  }),
  refunded: (): OrderWorkflowEvent => ({ type: "PaymentRefunded", version: 1, orderId: ORDER, amountCents: 399, paymentId: "p-1" })
}

/** Drives one order through the engine the way the orchestrator would, keeping what it sent and emitted. */
export class OrderRun {
  readonly workflow
  instance: Instance<OrderState, OrderCommand, OrderOutcome> | undefined
  now = T0
  readonly emitted: Array<Outgoing<OrderCommand, OrderOutcome>> = []
  last: Applied<OrderState, OrderCommand, OrderOutcome> | undefined

  constructor(config: OrderWorkflowConfigInput = { stepTimeoutMs: 1_000, maxAttempts: 2 }) {
    this.workflow = makeOrderWorkflow(config)
  }

  attempt(event: OrderWorkflowEvent): Either.Either<Applied<OrderState, OrderCommand, OrderOutcome>, IllegalTransition> {
    return step(this.workflow, this.instance, event, this.now)
  }

  send(event: OrderWorkflowEvent): Applied<OrderState, OrderCommand, OrderOutcome> {
    const r = this.attempt(event)
    if (Either.isLeft(r)) throw new Error(r.left.message)
    this.last = r.right
    this.instance = r.right.instance
    if (r.right._tag === "Advanced") this.emitted.push(...r.right.commands, ...r.right.events)
    return r.right
  }

  reject(event: OrderWorkflowEvent): IllegalTransition {
    const r = this.attempt(event)
    if (Either.isRight(r)) throw new Error(`expected IllegalTransition, got ${r.right._tag}`)
    return r.left
  }

  /** The event the runtime would publish for the pending timer of `name` (default: the only one). */
  timeoutEvent(name?: Step): OrderWorkflowEvent {
    const timer = this.instance!.timers.find((t) => name === undefined || t.name === name)
    if (timer === undefined) throw new Error(`no pending timer ${name ?? ""}`)
    return this.workflow.timerEvent(timer)
  }

  /** Advance the clock to the timer and deliver its firing. */
  timeout(name?: Step): Applied<OrderState, OrderCommand, OrderOutcome> {
    const event = this.timeoutEvent(name)
    this.now = this.instance!.timers.find((t) => t.timerId === (event as { timerId: string }).timerId)!.dueAt
    return this.send(event)
  }

  get state(): OrderState {
    return this.instance!.state
  }

  /** Types (and attempts where present) of the messages emitted so far, for compact assertions. */
  get trail(): ReadonlyArray<string> {
    return this.emitted.map(({ message: m }) => ("attempt" in m ? `${m.type}#${m.attempt}` : m.type))
  }

  get states(): ReadonlyArray<string> {
    return this.instance!.history.map((h) => h.to)
  }
}
