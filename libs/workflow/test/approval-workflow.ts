import { Either, Option, Schema } from "effect"
import { defineWorkflow, IllegalTransition, TimerRequest, Transition } from "../src/index.js"

/** A tiny workflow exercising every engine feature: ask an approver, re-ask on timeout, finish and say how. */
const Pending = Schema.TaggedStruct("Pending", { attempt: Schema.Number })
const Approved = Schema.TaggedStruct("Approved", {})
const Rejected = Schema.TaggedStruct("Rejected", {})
export const ApprovalState = Schema.Union(Pending, Approved, Rejected)
export type ApprovalState = typeof ApprovalState.Type

const Requested = Schema.Struct({ type: Schema.Literal("Requested"), id: Schema.String })
const Approve = Schema.Struct({ type: Schema.Literal("Approve"), id: Schema.String })
const Reject = Schema.Struct({ type: Schema.Literal("Reject"), id: Schema.String })
const Reopen = Schema.Struct({ type: Schema.Literal("Reopen"), id: Schema.String })
const Poke = Schema.Struct({ type: Schema.Literal("Poke"), id: Schema.String })
const TimedOut = Schema.Struct({
  type: Schema.Literal("TimedOut"), id: Schema.String, name: Schema.String, timerId: Schema.String, attempt: Schema.Number
})
export const ApprovalEvent = Schema.Union(Requested, Approve, Reject, Reopen, Poke, TimedOut)
export type ApprovalEvent = typeof ApprovalEvent.Type

const Ask = Schema.Struct({ type: Schema.Literal("Ask"), id: Schema.String, attempt: Schema.Number })
/** Takes an unanswered request back from the approver. */
const Withdraw = Schema.Struct({ type: Schema.Literal("Withdraw"), id: Schema.String })
export const ApprovalCommand = Schema.Union(Ask, Withdraw)
export type ApprovalCommand = typeof ApprovalCommand.Type
/** The event it emits about itself. */
export const Decided = Schema.Struct({ type: Schema.Literal("Decided"), id: Schema.String, outcome: Schema.String })
export type Decided = typeof Decided.Type

export const TIMEOUT_MS = 1_000
export const MAX_ATTEMPTS = 2

const illegal = (state: ApprovalState, event: ApprovalEvent, reason: string) =>
  Either.left(new IllegalTransition({ workflow: "approval", state: state._tag, event: event.type, reason }))

export const makeApprovalWorkflow = (historyLimit?: number) => defineWorkflow({
  name: "approval",
  state: ApprovalState,
  event: ApprovalEvent,
  command: ApprovalCommand,
  emittedEvent: Decided,
  ...(historyLimit === undefined ? {} : { historyLimit }),
  workflowIdOf: (e) => e.id,
  start: (id, e) =>
    e.type === "Requested"
      ? Either.right(Transition.advance<ApprovalState, ApprovalCommand, Decided>(Pending.make({ attempt: 1 }), {
          commands: [{ type: "Ask", id, attempt: 1 }],
          timers: [TimerRequest.set("approval", TIMEOUT_MS)]
        }))
      : Either.left(new IllegalTransition({ workflow: "approval", state: "(none)", event: e.type, reason: "only Requested starts it" })),
  transition: (s, e) => {
    switch (s._tag) {
      case "Pending":
        switch (e.type) {
          case "Approve":
            return Either.right(Transition.advance(Approved.make({}), {
              events: [{ type: "Decided", id: e.id, outcome: "approved" }],
              timers: [TimerRequest.cancel("approval")],
              terminal: true
            }))
          case "Reject":
            // Leaves the timer to the engine's terminal clean-up.
            return Either.right(Transition.advance(Rejected.make({}), { terminal: true }))
          case "TimedOut":
            if (s.attempt >= MAX_ATTEMPTS) {
              return Either.right(Transition.advance(Rejected.make({}), {
                commands: [{ type: "Withdraw", id: e.id }], events: [{ type: "Decided", id: e.id, outcome: "expired" }], terminal: true
              }))
            }
            return Either.right(Transition.advance(Pending.make({ attempt: s.attempt + 1 }), {
              commands: [{ type: "Ask", id: e.id, attempt: s.attempt + 1 }],
              timers: [TimerRequest.set("approval", TIMEOUT_MS, s.attempt + 1)]
            }))
          case "Poke":
            return Either.right(Transition.ignore("poked"))
          case "Requested":
            return Either.right(Transition.ignore("already requested"))
          default:
            return illegal(s, e, "nothing to reopen")
        }
      case "Approved":
      case "Rejected":
        if (e.type === "Approve" || e.type === "Reject") return Either.right(Transition.ignore("already decided"))
        // Deliberately lets a terminal state "advance" so the engine's guard is exercised.
        if (e.type === "Reopen") return Either.right(Transition.advance(Pending.make({ attempt: 1 })))
        if (e.type === "TimedOut") return Either.right(Transition.ignore("decided"))
        return illegal(s, e, "already decided")
    }
  },
  timerOf: (e) => (e.type === "TimedOut" ? Option.some({ name: e.name, timerId: e.timerId }) : Option.none()),
  timerEvent: (t) => ({ type: "TimedOut" as const, id: t.workflowId, name: t.name, timerId: t.timerId, attempt: t.attempt })
})

export const approval = makeApprovalWorkflow()
