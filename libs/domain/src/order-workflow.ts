import { defineWorkflow, IllegalTransition, TimerRequest, Transition, type Advance, type WorkflowDefinition } from "@conveyor/workflow"
import { Either, Option, Schema } from "effect"
import {
  CapturePayment, OrderCancelled, OrderCommand, OrderCompleted, OrderOutcome, OrderPlaced, PaymentCaptured, PaymentDeclined, PaymentRefunded, RecallShipment, RefundPayment,
  ReleaseStock, ReserveStock, ScheduleShipment, ShipmentRecalled, ShipmentScheduled, Step, StepTimedOut, StockRejected, StockReleased, StockReserved
} from "./messages.js"
import { Attempt, Cents, CustomerId, Id, LineItems, OrderId, Reason } from "./primitives.js"

// The order's states, then what the workflow consumes and emits, then its transitions.
/** What every step needs from the placed order, copied once so no step reads another store. */
export const OrderSnapshot = Schema.Struct({ orderId: OrderId, customerId: CustomerId, items: LineItems, totalCents: Cents })
export type OrderSnapshot = typeof OrderSnapshot.Type

const common = {
  order: OrderSnapshot,
  /**
   * Steps whose command was sent at least once. An answer for one of them that is not the current
   * step is late or duplicated (ignored); an answer for a step never asked for is illegal.
   */
  asked: Schema.Array(Step)
}
const inStep = { ...common, attempt: Attempt }

export const ReservingStock = Schema.TaggedStruct("ReservingStock", inStep)
export const CapturingPayment = Schema.TaggedStruct("CapturingPayment", inStep)
export const SchedulingShipment = Schema.TaggedStruct("SchedulingShipment", { ...inStep, paymentId: Id })
/** Compensation of an abandoned ship step: undo a shipment that may have happened, then refund. */
export const RecallingShipment = Schema.TaggedStruct("RecallingShipment", { ...inStep, reason: Reason, paymentId: Id })
/**
 * Compensation; `paymentId` is absent when the capture itself went unanswered. `compensations`
 * (those already done, e.g. a recall) defaults to none for instances stored before it existed.
 */
export const RefundingPayment = Schema.TaggedStruct("RefundingPayment", {
  ...inStep, reason: Reason, paymentId: Schema.optional(Id),
  compensations: Schema.optionalWith(Schema.Array(Step), { default: () => [] })
})
export const ReleasingStock = Schema.TaggedStruct("ReleasingStock", { ...inStep, reason: Reason, compensations: Schema.Array(Step) })
export const Completed = Schema.TaggedStruct("Completed", { ...common, paymentId: Id, trackingId: Id })
export const Cancelled = Schema.TaggedStruct("Cancelled", { ...common, reason: Reason, compensations: Schema.Array(Step) })

export const OrderState = Schema.Union(
  ReservingStock, CapturingPayment, SchedulingShipment, RecallingShipment, RefundingPayment, ReleasingStock, Completed, Cancelled
)
export type OrderState = typeof OrderState.Type
export type OrderStateTag = OrderState["_tag"]

/** The step a state waits on, if any: also the name of its timeout timer. */
export const currentStep = (state: OrderState): Step | undefined => {
  switch (state._tag) {
    case "ReservingStock": return "reserve"
    case "CapturingPayment": return "capture"
    case "SchedulingShipment": return "ship"
    case "RecallingShipment": return "recall"
    case "RefundingPayment": return "refund"
    case "ReleasingStock": return "release"
    case "Completed":
    case "Cancelled": return undefined
  }
}

export const isTerminal = (state: OrderState): boolean => currentStep(state) === undefined

/** The events the order workflow consumes; the orchestrator acks any other order event unread. */
export const OrderWorkflowEvent = Schema.Union(
  OrderPlaced, StockReserved, StockRejected, PaymentCaptured, PaymentDeclined, ShipmentScheduled, ShipmentRecalled,
  StockReleased, PaymentRefunded, StepTimedOut
)
export type OrderWorkflowEvent = typeof OrderWorkflowEvent.Type
export const isOrderWorkflowEvent = Schema.is(OrderWorkflowEvent)

// It sends every OrderCommand to the workers and emits an OrderOutcome about the order when it finishes.

const Millis = Schema.Number.pipe(Schema.int(), Schema.positive())

/** Tuning, decoded (and so validated, with defaults) when the workflow is built at start-up. */
export const OrderWorkflowConfig = Schema.Struct({
  /** How long a step waits for its answer before re-sending; default 30 s. */
  stepTimeoutMs: Schema.optionalWith(Millis, { default: () => 30_000 }),
  /** Per-step override of `stepTimeoutMs`. */
  timeouts: Schema.optionalWith(
    Schema.Struct({
      reserve: Schema.optional(Millis), capture: Schema.optional(Millis), ship: Schema.optional(Millis),
      recall: Schema.optional(Millis), refund: Schema.optional(Millis), release: Schema.optional(Millis)
    }),
    { default: () => ({}) }
  ),
  /**
   * Attempts of a forward step (reserve, capture, ship) before compensating; default 3. Compensating
   * steps (recall, refund, release) retry without limit: giving up on them would leave goods, money
   * or stock held.
   */
  maxAttempts: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.positive()), { default: () => 3 })
})
export type OrderWorkflowConfig = typeof OrderWorkflowConfig.Type
export type OrderWorkflowConfigInput = typeof OrderWorkflowConfig.Encoded

export const defaultOrderWorkflowConfig: OrderWorkflowConfig = Schema.decodeSync(OrderWorkflowConfig)({})

const WORKFLOW = "order"
/**
 * `make` options for the states and messages built below: from values already decoded (events)
 * or built here, and validated again where they leave the process (the instance's encoder when it
 * is stored, the publisher when a message is published), so not once more at construction.
 */
const built: Schema.MakeOptions = { disableValidation: true }
const answeredStep = {
  StockReserved: "reserve", StockRejected: "reserve", PaymentCaptured: "capture", PaymentDeclined: "capture",
  ShipmentScheduled: "ship", ShipmentRecalled: "recall", PaymentRefunded: "refund", StockReleased: "release"
} as const satisfies Record<string, Step>
const stepCommand = {
  reserve: "ReserveStock", capture: "CapturePayment", ship: "ScheduleShipment", recall: "RecallShipment", refund: "RefundPayment",
  release: "ReleaseStock"
} as const satisfies Record<Step, string>

type State = OrderState
type Event = OrderWorkflowEvent
type Command = OrderCommand
type Outcome = OrderOutcome
type StepState = Extract<State, { readonly attempt: number }>
type Next = Advance<State, Command, Outcome>
type Decision = Either.Either<Transition<State, Command, Outcome>, IllegalTransition>

/** Reasons end up in a schema-limited field; a worker's long reason must not make the transition throw. */
const clip = (s: string): string => (s.length <= 500 ? s : `${s.slice(0, 499)}…`)

const illegal = (state: string, event: Event, reason: string) =>
  Either.left(new IllegalTransition({ workflow: WORKFLOW, state, event: event.type, reason }))

export type OrderWorkflow = WorkflowDefinition<OrderState, OrderWorkflowEvent, OrderCommand, OrderOutcome>

/** Builds the order workflow; throws on an invalid configuration (a start-up error, never a runtime one). */
export const makeOrderWorkflow = (input: OrderWorkflowConfigInput = {}): OrderWorkflow => {
  const config = Schema.decodeUnknownSync(OrderWorkflowConfig)(input)
  const timeoutOf = (step: Step) => config.timeouts[step] ?? config.stepTimeoutMs

  const command = (state: StepState): Command => {
    const { order, attempt } = state
    const base = { orderId: order.orderId, attempt }
    switch (state._tag) {
      case "ReservingStock": return ReserveStock.make({ ...base, items: order.items }, built)
      case "CapturingPayment": return CapturePayment.make({ ...base, customerId: order.customerId, amountCents: order.totalCents }, built)
      case "SchedulingShipment": return ScheduleShipment.make({ ...base, customerId: order.customerId, items: order.items }, built)
      case "RecallingShipment": return RecallShipment.make(base, built)
      case "RefundingPayment":
        return RefundPayment.make({
          ...base, amountCents: order.totalCents, ...(state.paymentId === undefined ? {} : { paymentId: state.paymentId })
        }, built)
      case "ReleasingStock": return ReleaseStock.make({ ...base, items: order.items }, built)
    }
  }

  /** Enter a step or re-send it: send its command at `next.attempt` and (re)arm its timer, disarming the previous step's. */
  const enter = (from: State, next: StepState): Next => {
    const step = currentStep(next)!
    const previous = currentStep(from)
    return Transition.advance<State, Command, Outcome>(
      { ...next, asked: next.asked.includes(step) ? next.asked : [...next.asked, step] },
      {
        commands: [command(next)],
        timers: [
          ...(previous === undefined || previous === step ? [] : [TimerRequest.cancel(previous)]),
          TimerRequest.set(step, timeoutOf(step), next.attempt)
        ]
      }
    )
  }

  const finish = (from: State, next: State, outcome: Outcome): Next => {
    const previous = currentStep(from)
    return Transition.advance<State, Command, Outcome>(next, {
      events: [outcome],
      timers: previous === undefined ? [] : [TimerRequest.cancel(previous)],
      terminal: true
    })
  }

  const cancel = (from: State, reason: string, compensations: ReadonlyArray<Step>) => {
    const { order, asked } = from
    const r = clip(reason)
    return finish(from, Cancelled.make({ order, asked, reason: r, compensations }, built),
      OrderCancelled.make({ orderId: order.orderId, reason: r, compensations }, built))
  }

  const release = (from: State, reason: string, compensations: ReadonlyArray<Step>) =>
    enter(from, ReleasingStock.make({ order: from.order, asked: from.asked, attempt: 1, reason: clip(reason), compensations }, built))

  const refund = (from: State, reason: string, paymentId: string | undefined, compensations: ReadonlyArray<Step> = []) =>
    enter(from, RefundingPayment.make({
      order: from.order, asked: from.asked, attempt: 1, reason: clip(reason), compensations,
      ...(paymentId === undefined ? {} : { paymentId })
    }, built))

  /** The shipment may have been booked by an attempt whose answer never came: undo it before refunding. */
  const recall = (from: State, reason: string, paymentId: string) =>
    enter(from, RecallingShipment.make({ order: from.order, asked: from.asked, attempt: 1, reason: clip(reason), paymentId }, built))

  /** The current step's answer arrived; undefined only for a pairing `transition` never passes. */
  const onAnswer = (state: StepState, event: Event): Next | undefined => {
    const { order, asked } = state
    switch (state._tag) {
      case "ReservingStock":
        if (event.type === "StockReserved") return enter(state, CapturingPayment.make({ order, asked, attempt: 1 }, built))
        if (event.type === "StockRejected") return cancel(state, `stock rejected: ${event.reason}`, [])
        return undefined
      case "CapturingPayment":
        if (event.type === "PaymentCaptured") {
          return enter(state, SchedulingShipment.make({ order, asked, attempt: 1, paymentId: event.paymentId }, built))
        }
        if (event.type === "PaymentDeclined") return release(state, `payment declined: ${event.reason}`, [])
        return undefined
      case "SchedulingShipment": {
        if (event.type !== "ShipmentScheduled") return undefined
        const { paymentId } = state
        return finish(state, Completed.make({ order, asked, paymentId, trackingId: event.trackingId }, built),
          OrderCompleted.make({ orderId: order.orderId, paymentId, trackingId: event.trackingId }, built))
      }
      case "RecallingShipment":
        return event.type === "ShipmentRecalled" ? refund(state, state.reason, state.paymentId, ["recall"]) : undefined
      case "RefundingPayment":
        return event.type === "PaymentRefunded" ? release(state, state.reason, [...state.compensations, "refund"]) : undefined
      case "ReleasingStock":
        return event.type === "StockReleased" ? cancel(state, state.reason, [...state.compensations, "release"]) : undefined
    }
  }

  /**
   * No answer in time: re-send (new attempt, so a new message id) or give up and compensate. A lost
   * answer may hide a reservation, capture or shipment that did happen, and an attempt still queued
   * for a worker that is down may happen later, so giving up undoes the step to be safe: each
   * compensation leaves a per-order tombstone in the worker's store that refuses a later attempt
   * (see libs/orders README), and workers treat undoing nothing as success. Compensations
   * themselves never give up.
   */
  const onTimeout = (state: StepState): Next => {
    const retry = () => enter(state, { ...state, attempt: state.attempt + 1 })
    const exhausted = state.attempt >= config.maxAttempts
    const reason = `no answer to ${stepCommand[currentStep(state)!]} after ${state.attempt} attempts`
    switch (state._tag) {
      case "RecallingShipment":
      case "RefundingPayment":
      case "ReleasingStock": return retry()
      case "ReservingStock": return exhausted ? release(state, reason, []) : retry()
      case "CapturingPayment": return exhausted ? refund(state, reason, undefined) : retry()
      case "SchedulingShipment": return exhausted ? recall(state, reason, state.paymentId) : retry()
    }
  }

  const transition = (state: State, event: Event): Decision => {
    if (event.type === "OrderPlaced") return Either.right(Transition.ignore("duplicate OrderPlaced"))
    const step = currentStep(state)
    if (event.type === "StepTimedOut") {
      // The engine already drops stale timers; this guards a firing for a step we are not in.
      return step !== undefined && event.step === step
        ? Either.right(onTimeout(state as StepState))
        : Either.right(Transition.ignore(`timeout of ${event.step} while in ${state._tag}`))
    }
    const answers = answeredStep[event.type]
    if (answers === step) {
      const next = onAnswer(state as StepState, event)
      return next === undefined ? illegal(state._tag, event, "not an answer this state handles") : Either.right(next)
    }
    if (state.asked.includes(answers)) {
      return Either.right(Transition.ignore(`late or duplicate ${event.type}: ${stepCommand[answers]} was already answered or abandoned`))
    }
    return illegal(state._tag, event, `${stepCommand[answers]} was never sent for this order`)
  }

  return defineWorkflow<State, Event, Command, Outcome>({
    name: WORKFLOW,
    state: OrderState,
    event: OrderWorkflowEvent,
    command: OrderCommand,
    emittedEvent: OrderOutcome,
    workflowIdOf: (event) => event.orderId,
    starts: (event) => event.type === "OrderPlaced",
    start: (_workflowId, event) => {
      if (event.type !== "OrderPlaced") return illegal("(none)", event, "no workflow exists for this order; only OrderPlaced starts one")
      const order: OrderSnapshot = {
        orderId: event.orderId, customerId: event.customerId, items: event.items, totalCents: event.totalCents
      }
      const initial = ReservingStock.make({ order, asked: [], attempt: 1 }, built)
      return Either.right(enter(initial, initial))
    },
    transition,
    timerOf: (event) =>
      event.type === "StepTimedOut" ? Option.some({ name: event.step, timerId: event.timerId }) : Option.none(),
    timerEvent: (timer) =>
      StepTimedOut.make({
        orderId: timer.workflowId, step: Schema.decodeUnknownSync(Step)(timer.name), attempt: timer.attempt, timerId: timer.timerId
      }, built)
  })
}

export const orderWorkflow: OrderWorkflow = makeOrderWorkflow()
