import { dueTimers, instanceEncoder, instanceJson } from "@conveyor/workflow"
import { Either, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ev, items, ORDER, OrderRun, T0 } from "./order-run.js"
import {
  commandSubject, decodeCommand, decodeEvent, defaultOrderWorkflowConfig, eventSubject, isOrderWorkflowEvent, OrderCommand, OrderOutcome, orderWorkflow
} from "../src/index.js"
import type { OrderWorkflowEvent } from "../src/order-workflow.js"

const placedAndReserved = () => {
  const run = new OrderRun()
  run.send(ev.placed())
  run.send(ev.reserved())
  return run
}
const atShipping = () => {
  const run = placedAndReserved()
  run.send(ev.captured())
  return run
}

describe("happy path", () => {
  it("reserves, captures, ships and completes, with deterministic ids per transition", () => {
    const run = new OrderRun()
    for (const e of [ev.placed(), ev.reserved(), ev.captured(), ev.scheduled()]) run.send(e)
    expect(run.states).toEqual(["ReservingStock", "CapturingPayment", "SchedulingShipment", "Completed"])
    expect(run.emitted).toEqual([
      { id: "o-1:1:0", kind: "command", message: { type: "ReserveStock", version: 1, orderId: ORDER, attempt: 1, items } },
      { id: "o-1:2:0", kind: "command", message: { type: "CapturePayment", version: 1, orderId: ORDER, attempt: 1, customerId: "c-1", amountCents: 399 } },
      { id: "o-1:3:0", kind: "command", message: { type: "ScheduleShipment", version: 1, orderId: ORDER, attempt: 1, customerId: "c-1", items } },
      // The outcome is an event the workflow emits, under the id it had when it was sent as a command.
      { id: "o-1:4:0", kind: "event", message: { type: "OrderCompleted", version: 1, orderId: ORDER, paymentId: "p-1", trackingId: "t-1" } }
    ])
    expect(run.instance).toMatchObject({ terminal: true, timers: [], transitions: 4 })
    expect(run.state).toMatchObject({ _tag: "Completed", paymentId: "p-1", trackingId: "t-1", asked: ["reserve", "capture", "ship"] })
  })

  it("arms each step's timer and disarms the previous one", () => {
    const run = new OrderRun()
    const started = run.send(ev.placed())
    expect(started._tag === "Advanced" && started.timersSet).toEqual([
      { workflowId: ORDER, name: "reserve", timerId: "o-1:1:timer:reserve", dueAt: T0 + 1_000, attempt: 1 }
    ])
    const next = run.send(ev.reserved())
    expect(next._tag === "Advanced" && next.timersCleared.map((t) => t.name)).toEqual(["reserve"])
    expect(run.instance!.timers.map((t) => [t.name, t.timerId])).toEqual([["capture", "o-1:2:timer:capture"]])
    const done = (run.send(ev.captured()), run.send(ev.scheduled()))
    expect(done._tag === "Advanced" && done.timersCleared.map((t) => t.name)).toEqual(["ship"])
  })

  it("uses the configured defaults: 30 s per step, 3 attempts", () => {
    expect(defaultOrderWorkflowConfig).toEqual({ stepTimeoutMs: 30_000, timeouts: {}, maxAttempts: 3 })
    const run = new OrderRun({})
    run.send(ev.placed())
    expect(run.instance!.timers[0]!.dueAt).toBe(T0 + 30_000)
    run.timeout()
    run.timeout()
    expect(run.trail).toEqual(["ReserveStock#1", "ReserveStock#2", "ReserveStock#3"])
    run.timeout()
    expect(run.state._tag).toBe("ReleasingStock")
  })

  it("rejects an invalid configuration at construction, naming the field", () => {
    expect(() => new OrderRun({ maxAttempts: 0 })).toThrow(/maxAttempts/)
    expect(() => new OrderRun({ stepTimeoutMs: 1.5 })).toThrow(/stepTimeoutMs/)
    expect(() => new OrderRun({ timeouts: { ship: -1 } })).toThrow(/ship/)
  })

  it("honours a per-step timeout override", () => {
    const run = new OrderRun({ stepTimeoutMs: 1_000, timeouts: { capture: 5_000 } })
    run.send(ev.placed())
    run.send(ev.reserved())
    expect(run.instance!.timers[0]).toMatchObject({ name: "capture", dueAt: T0 + 5_000 })
  })
})

describe("cancellation without and with compensation", () => {
  it("StockRejected cancels at once: nothing to compensate", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    run.send(ev.rejected("out of apples"))
    expect(run.states).toEqual(["ReservingStock", "Cancelled"])
    expect(run.emitted.at(-1)).toEqual({
      id: "o-1:2:0", kind: "event", message: { type: "OrderCancelled", version: 1, orderId: ORDER, reason: "stock rejected: out of apples", compensations: [] }
    })
    expect(run.instance).toMatchObject({ terminal: true, timers: [] })
  })

  it("PaymentDeclined releases stock, then cancels", () => {
    const run = placedAndReserved()
    run.send(ev.declined("insufficient funds"))
    expect(run.state).toMatchObject({ _tag: "ReleasingStock", attempt: 1, reason: "payment declined: insufficient funds", compensations: [] })
    expect(run.instance!.timers.map((t) => t.name)).toEqual(["release"])
    run.send(ev.released())
    expect(run.trail).toEqual(["ReserveStock#1", "CapturePayment#1", "ReleaseStock#1", "OrderCancelled"])
    expect(run.emitted.at(-1)!.message).toEqual({
      type: "OrderCancelled", version: 1, orderId: ORDER, reason: "payment declined: insufficient funds", compensations: ["release"]
    })
    expect(run.instance).toMatchObject({ terminal: true, timers: [] })
  })

  it("clips a long reason so the cancellation still validates", () => {
    const run = placedAndReserved()
    run.send(ev.declined("x".repeat(500)))
    run.send(ev.released())
    const cancelled = run.emitted.at(-1)!.message as { reason: string }
    expect(cancelled.reason).toHaveLength(500)
    expect(cancelled.reason.endsWith("…")).toBe(true)
  })
})

describe("timeouts", () => {
  it("re-sends a step with a new attempt and a new message id, then proceeds on the answer", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    const retried = run.timeout()
    expect(retried._tag === "Advanced" && retried.commands).toEqual([
      { id: "o-1:2:0", kind: "command", message: { type: "ReserveStock", version: 1, orderId: ORDER, attempt: 2, items } }
    ])
    expect(run.instance!.timers).toEqual([
      { workflowId: ORDER, name: "reserve", timerId: "o-1:2:timer:reserve", dueAt: T0 + 2_000, attempt: 2 }
    ])
    expect(run.state).toMatchObject({ _tag: "ReservingStock", attempt: 2 })
    run.send(ev.reserved())
    expect(run.state).toMatchObject({ _tag: "CapturingPayment", attempt: 1 })
  })

  it("carries the step and attempt in the timeout event", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    run.timeout()
    expect(run.timeoutEvent()).toEqual({ type: "StepTimedOut", version: 1, orderId: ORDER, step: "reserve", attempt: 2, timerId: "o-1:2:timer:reserve" })
  })

  it("reserve exhausted: releases (a lost answer may hide a reservation), then cancels", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    run.timeout()
    run.timeout()
    expect(run.state).toMatchObject({ _tag: "ReleasingStock", reason: "no answer to ReserveStock after 2 attempts" })
    run.send(ev.released())
    expect(run.trail).toEqual(["ReserveStock#1", "ReserveStock#2", "ReleaseStock#1", "OrderCancelled"])
    expect(run.state).toMatchObject({ _tag: "Cancelled", compensations: ["release"] })
  })

  it("capture exhausted: refunds without a payment id, releases, then cancels", () => {
    const run = placedAndReserved()
    run.timeout()
    run.timeout()
    expect(run.emitted.at(-1)!.message).toEqual({ type: "RefundPayment", version: 1, orderId: ORDER, attempt: 1, amountCents: 399 })
    expect(run.state).toMatchObject({ _tag: "RefundingPayment", reason: "no answer to CapturePayment after 2 attempts" })
    run.send(ev.refunded())
    expect(run.state).toMatchObject({ _tag: "ReleasingStock", compensations: ["refund"] })
    run.send(ev.released())
    expect(run.trail).toEqual([
      "ReserveStock#1", "CapturePayment#1", "CapturePayment#2", "RefundPayment#1", "ReleaseStock#1", "OrderCancelled"
    ])
    expect(run.emitted.at(-1)!.message).toMatchObject({ reason: "no answer to CapturePayment after 2 attempts", compensations: ["refund", "release"] })
  })

  it("shipment exhausted after capture: recalls the shipment, refunds the payment, releases stock, then cancels", () => {
    const run = atShipping()
    run.timeout()
    run.timeout()
    // An attempt still queued for a shipping worker that is down may ship later: recall first.
    expect(run.emitted.at(-1)!.message).toEqual({ type: "RecallShipment", version: 1, orderId: ORDER, attempt: 1 })
    expect(run.state).toMatchObject({ _tag: "RecallingShipment", reason: "no answer to ScheduleShipment after 2 attempts" })
    // The late answer of an abandoned attempt changes nothing; the recall undoes what it booked.
    expect(run.send(ev.scheduled())).toMatchObject({ _tag: "Ignored" })
    run.send(ev.recalled("t-1"))
    expect(run.emitted.at(-1)!.message).toEqual({ type: "RefundPayment", version: 1, orderId: ORDER, attempt: 1, amountCents: 399, paymentId: "p-1" })
    run.send(ev.refunded())
    run.send(ev.released())
    expect(run.states).toEqual([
      "ReservingStock", "CapturingPayment", "SchedulingShipment", "SchedulingShipment", "RecallingShipment", "RefundingPayment",
      "ReleasingStock", "Cancelled"
    ])
    expect(run.state).toMatchObject({
      _tag: "Cancelled", reason: "no answer to ScheduleShipment after 2 attempts", compensations: ["recall", "refund", "release"]
    })
    expect(run.instance!.timers).toEqual([])
  })

  it("compensating steps are retried without limit", () => {
    const run = atShipping()
    run.timeout()
    run.timeout()
    for (let i = 0; i < 5; i++) run.timeout()
    expect(run.state).toMatchObject({ _tag: "RecallingShipment", attempt: 6 })
    run.send(ev.recalled())
    for (let i = 0; i < 5; i++) run.timeout()
    expect(run.state).toMatchObject({ _tag: "RefundingPayment", attempt: 6 })
    run.send(ev.refunded())
    for (let i = 0; i < 5; i++) run.timeout()
    expect(run.state).toMatchObject({ _tag: "ReleasingStock", attempt: 6 })
    expect(run.trail.filter((t) => t.startsWith("ReleaseStock"))).toHaveLength(6)
    run.send(ev.released())
    expect(run.state._tag).toBe("Cancelled")
  })

  it("a timer that fires after its step was answered is stale and ignored", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    const late = run.timeoutEvent("reserve")
    run.send(ev.reserved())
    const r = run.send(late)
    expect(r).toMatchObject({ _tag: "Ignored", changed: false })
    expect(r._tag === "Ignored" && r.reason).toMatch(/^stale timer reserve/)
    expect(run.state._tag).toBe("CapturingPayment")
  })

  it("a superseded attempt's timer is stale; the current one still counts", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    const first = run.timeoutEvent()
    run.timeout()
    expect(run.send(first)._tag).toBe("Ignored")
    run.timeout()
    expect(run.state._tag).toBe("ReleasingStock")
  })

  it("timers due are visible to the runtime", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    expect(dueTimers(run.instance!, T0 + 999)).toEqual([])
    expect(dueTimers(run.instance!, T0 + 1_000).map((t) => t.name)).toEqual(["reserve"])
  })

  it("a timeout for a step other than the current one is ignored by the definition", () => {
    const run = placedAndReserved()
    const timer = run.instance!.timers[0]!
    // Same id as the pending capture timer, but claims the reserve step: cannot come from the engine.
    const forged: OrderWorkflowEvent = { type: "StepTimedOut", version: 1, orderId: ORDER, step: "reserve", attempt: 1, timerId: timer.timerId }
    expect(orderWorkflow.transition(run.state, forged)).toMatchObject({ _tag: "Right", right: { _tag: "Ignore" } })
  })
})

describe("duplicates and late answers are ignored", () => {
  it.each([
    ["a second OrderPlaced", (r: OrderRun) => r.send(ev.placed()), ev.placed()],
    ["a second StockReserved", (r: OrderRun) => (r.send(ev.placed()), r.send(ev.reserved())), ev.reserved()],
    ["StockRejected after StockReserved", (r: OrderRun) => (r.send(ev.placed()), r.send(ev.reserved())), ev.rejected()],
    ["a second PaymentCaptured", (r: OrderRun) => { for (const e of [ev.placed(), ev.reserved(), ev.captured()]) r.send(e) }, ev.captured("p-2")],
    ["a second PaymentDeclined while releasing", (r: OrderRun) => { for (const e of [ev.placed(), ev.reserved(), ev.declined()]) r.send(e) }, ev.declined()],
    ["a late PaymentCaptured while refunding an unanswered capture", (r: OrderRun) => {
      r.send(ev.placed()); r.send(ev.reserved()); r.timeout(); r.timeout()
    }, ev.captured()],
    ["a late StockReserved while releasing an unanswered reservation", (r: OrderRun) => {
      r.send(ev.placed()); r.timeout(); r.timeout()
    }, ev.reserved()],
    ["a second ShipmentScheduled after completion", (r: OrderRun) => {
      for (const e of [ev.placed(), ev.reserved(), ev.captured(), ev.scheduled()]) r.send(e)
    }, ev.scheduled()],
    ["a second StockReleased after cancellation", (r: OrderRun) => {
      for (const e of [ev.placed(), ev.reserved(), ev.declined(), ev.released()]) r.send(e)
    }, ev.released()],
    ["a second PaymentRefunded while releasing", (r: OrderRun) => {
      r.send(ev.placed()); r.send(ev.reserved()); r.send(ev.captured()); r.timeout(); r.timeout(); r.send(ev.recalled()); r.send(ev.refunded())
    }, ev.refunded()],
    ["a second ShipmentRecalled while refunding", (r: OrderRun) => {
      r.send(ev.placed()); r.send(ev.reserved()); r.send(ev.captured()); r.timeout(); r.timeout(); r.send(ev.recalled())
    }, ev.recalled("t-1")],
    ["a late StockRejected after cancellation", (r: OrderRun) => { r.send(ev.placed()); r.send(ev.rejected()) }, ev.rejected()]
  ])("%s", (_name, setup, duplicate) => {
    const run = new OrderRun()
    setup(run)
    const before = run.instance
    const r = run.send(duplicate)
    expect(r._tag).toBe("Ignored")
    expect(r._tag === "Ignored" && r.changed).toBe(false)
    expect(run.instance).toBe(before)
  })
})

describe("illegal transitions", () => {
  it("only OrderPlaced starts a workflow", () => {
    const e = new OrderRun().reject(ev.reserved())
    expect(e).toMatchObject({ workflow: "order", workflowId: ORDER, state: "(none)", event: "StockReserved" })
    expect(e.message).toBe("order o-1: event StockReserved is not allowed in state (none): no workflow exists for this order; only OrderPlaced starts one")
  })

  it.each([
    ["ShipmentScheduled before any shipment was asked", () => { const r = new OrderRun(); r.send(ev.placed()); return r }, ev.scheduled(), "ReservingStock", "ScheduleShipment was never sent for this order"],
    ["PaymentCaptured while reserving", () => { const r = new OrderRun(); r.send(ev.placed()); return r }, ev.captured(), "ReservingStock", "CapturePayment was never sent for this order"],
    ["StockReleased while capturing", placedAndReserved, ev.released(), "CapturingPayment", "ReleaseStock was never sent for this order"],
    ["PaymentRefunded while shipping", atShipping, ev.refunded(), "SchedulingShipment", "RefundPayment was never sent for this order"],
    ["PaymentRefunded when only stock is being released", () => { const r = placedAndReserved(); r.send(ev.declined()); return r }, ev.refunded(), "ReleasingStock", "RefundPayment was never sent for this order"],
    ["PaymentCaptured after a stock rejection", () => { const r = new OrderRun(); r.send(ev.placed()); r.send(ev.rejected()); return r }, ev.captured(), "Cancelled", "CapturePayment was never sent for this order"],
    ["StockReleased after completion", () => { const r = atShipping(); r.send(ev.scheduled()); return r }, ev.released(), "Completed", "ReleaseStock was never sent for this order"]
  ])("%s", (_name, setup, event, state, reason) => {
    const e = setup().reject(event)
    expect(e).toMatchObject({ _tag: "IllegalTransition", workflow: "order", workflowId: ORDER, state, event: event.type, reason })
    expect(e.message).toContain(`event ${event.type} is not allowed in state ${state}`)
  })

  it("rejects an event for another order", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    expect(run.reject({ ...ev.reserved(), orderId: "o-2" } as OrderWorkflowEvent).reason).toBe("the event belongs to instance o-2")
  })
})

describe("determinism and storage", () => {
  it("re-running a transition on the same instance yields the same ids and state", () => {
    const run = placedAndReserved()
    const a = run.attempt(ev.captured())
    const b = run.attempt(ev.captured())
    expect(b).toEqual(a)
  })

  it("every command it sends is a worker's command and every event it emits an outcome: each validates, encodes and has its subject", () => {
    const run = atShipping()
    run.timeout(); run.timeout(); run.send(ev.recalled()); run.send(ev.refunded()); run.send(ev.released())
    const happy = atShipping()
    happy.send(ev.scheduled())
    const sent = [...run.emitted, ...happy.emitted]
    expect(sent.filter((o) => o.kind === "event").map((o) => o.message.type)).toEqual(["OrderCancelled", "OrderCompleted"])
    for (const o of sent) {
      const text = JSON.stringify(o.message)
      if (o.kind === "command") {
        expect(Schema.is(OrderCommand)(o.message)).toBe(true)
        expect(decodeCommand(text)).toEqual(Either.right(o.message))
        expect(commandSubject(o.message)).toMatch(/^orders\.commands\./)
      } else {
        expect(Schema.is(OrderOutcome)(o.message)).toBe(true)
        expect(decodeEvent(text)).toEqual(Either.right(o.message))
        expect(eventSubject(o.message)).toMatch(/^orders\.events\./)
      }
    }
  })

  it("the instance survives a JSON round trip at every step (KV storage)", () => {
    const Json = instanceJson(orderWorkflow)
    const run = new OrderRun({})
    for (const e of [ev.placed(), ev.reserved(), ev.declined(), ev.released()]) {
      run.send(e)
      expect(Schema.decodeUnknownSync(Json)(Schema.encodeSync(Json)(run.instance!))).toEqual(run.instance)
    }
  })

  it("the runtime's instance encoder writes the same text as the Schema at every step, compensations and timeouts included", () => {
    const Json = instanceJson(orderWorkflow)
    const encode = instanceEncoder(orderWorkflow)
    const run = atShipping()
    const texts = () => expect(encode(run.instance!)).toBe(Schema.encodeSync(Json)(run.instance!))
    texts()
    run.timeout(); texts(); run.timeout(); texts()
    for (const e of [ev.recalled(), ev.refunded(), ev.released()]) {
      run.send(e)
      texts()
    }
  })

  it("timeout events decode as order events, and only workflow inputs pass the guard", () => {
    const run = new OrderRun()
    run.send(ev.placed())
    const timeout = run.timeoutEvent()
    expect(decodeEvent(JSON.stringify(timeout))).toEqual(Either.right(timeout))
    expect(isOrderWorkflowEvent(timeout)).toBe(true)
    expect(isOrderWorkflowEvent({ type: "OrderCompleted", version: 1, orderId: ORDER, paymentId: "p", trackingId: "t" })).toBe(false)
  })

  it("refuses to build a timeout event for a timer that is not a step", () => {
    expect(() => orderWorkflow.timerEvent({ workflowId: ORDER, name: "bogus", timerId: "x", dueAt: 0, attempt: 1 })).toThrow()
  })
})
