import { defineWorkflow, IllegalTransition, TimerRequest, Transition } from "@conveyor/workflow"
import { Either, Option, Schema } from "effect"

/** A tiny workflow for runtime tests: every Inc advances the counter and sends a Note; Stop emits Stopped. */
export const Counting = Schema.TaggedStruct("Counting", { n: Schema.Number })
export const CounterEvent = Schema.Union(
  Schema.Struct({ type: Schema.Literal("Start"), id: Schema.String, timeoutMs: Schema.optional(Schema.Number) }),
  Schema.Struct({ type: Schema.Literal("Inc"), id: Schema.String }),
  Schema.Struct({ type: Schema.Literal("Bogus"), id: Schema.String }),
  Schema.Struct({ type: Schema.Literal("Stop"), id: Schema.String }),
  /** Re-arms the expiry timer, `timeoutMs` from now; unless `quiet`, emits a Note (in the outbox until the next write). */
  Schema.Struct({ type: Schema.Literal("Extend"), id: Schema.String, timeoutMs: Schema.Number, quiet: Schema.optional(Schema.Boolean) }),
  Schema.Struct({ type: Schema.Literal("Expired"), id: Schema.String, timerId: Schema.String })
)
export type CounterEvent = typeof CounterEvent.Type
export const Note = Schema.Struct({ type: Schema.Literal("Note"), id: Schema.String, n: Schema.Number })
export type Note = typeof Note.Type
export const Stopped = Schema.Struct({ type: Schema.Literal("Stopped"), id: Schema.String, n: Schema.Number })

export const counterWorkflow = defineWorkflow({
  name: "counter",
  state: Counting,
  event: CounterEvent,
  command: Note,
  emittedEvent: Stopped,
  workflowIdOf: (e) => e.id,
  starts: (e) => e.type === "Start",
  start: (id, e) =>
    e.type === "Start"
      ? Either.right(Transition.advance(Counting.make({ n: 0 }), {
          timers: e.timeoutMs === undefined ? [] : [TimerRequest.set("expire", e.timeoutMs)]
        }))
      : Either.left(new IllegalTransition({ workflow: "counter", workflowId: id, state: "(none)", event: e.type, reason: "only Start starts" })),
  transition: (state, e) => {
    switch (e.type) {
      case "Start": return Either.right(Transition.ignore("already started"))
      case "Inc": return Either.right(Transition.advance(Counting.make({ n: state.n + 1 }), { commands: [{ type: "Note" as const, id: e.id, n: state.n + 1 }] }))
      case "Stop": return Either.right(Transition.advance(state, { events: [{ type: "Stopped" as const, id: e.id, n: state.n }], terminal: true }))
      case "Extend":
        return Either.right(Transition.advance(state, {
          commands: e.quiet === true ? [] : [{ type: "Note" as const, id: e.id, n: state.n }], timers: [TimerRequest.set("expire", e.timeoutMs)]
        }))
      case "Expired": return Either.right(Transition.advance(Counting.make({ n: -1 }), { terminal: true }))
      case "Bogus": return Either.left(new IllegalTransition({ workflow: "counter", state: state._tag, event: e.type, reason: "bogus is never allowed" }))
    }
  },
  timerOf: (e) => (e.type === "Expired" ? Option.some({ name: "expire", timerId: e.timerId }) : Option.none()),
  timerEvent: (t) => ({ type: "Expired" as const, id: t.workflowId, timerId: t.timerId }),
  historyLimit: 1_000
})

/** A gate that must be opened before it is passed: an event whose legality depends on the state. */
const Gate = Schema.Union(Schema.TaggedStruct("Closed", {}), Schema.TaggedStruct("Open", {}), Schema.TaggedStruct("Passed", {}))
const GateEvent = Schema.Struct({ type: Schema.Literal("Create", "Open", "Pass"), id: Schema.String })
export const gateWorkflow = defineWorkflow({
  name: "gate",
  state: Gate,
  event: GateEvent,
  command: Note,
  workflowIdOf: (e) => e.id,
  start: (id, e) =>
    e.type === "Create"
      ? Either.right(Transition.advance({ _tag: "Closed" as const }))
      : Either.left(new IllegalTransition({ workflow: "gate", workflowId: id, state: "(none)", event: e.type, reason: "only Create starts" })),
  transition: (state, e) => {
    if (e.type === "Open" && state._tag === "Closed") return Either.right(Transition.advance({ _tag: "Open" as const }))
    if (e.type === "Pass" && state._tag === "Open") return Either.right(Transition.advance({ _tag: "Passed" as const }, { terminal: true }))
    return Either.left(new IllegalTransition({ workflow: "gate", state: state._tag, event: e.type, reason: `${e.type} is not allowed when ${state._tag}` }))
  },
  timerOf: () => Option.none(),
  timerEvent: (t) => ({ type: "Open" as const, id: t.workflowId }),
  historyLimit: 100
})
