import { Either } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { approval, type ApprovalCommand, type ApprovalEvent, type ApprovalState, type Decided, makeApprovalWorkflow, TIMEOUT_MS } from "./approval-workflow.js"
import {
  alreadyApplied, type Applied, apply, type Instance, markPublished, mustPersist, start, step, IllegalTransition
} from "../src/index.js"

type I = Instance<ApprovalState, ApprovalCommand, Decided>
const T0 = 1_700_000_000_000

const right = <A>(e: Either.Either<A, IllegalTransition>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got ${e.left.message}`)
  return e.right
}
const left = <A>(e: Either.Either<A, IllegalTransition>): IllegalTransition => {
  if (Either.isRight(e)) throw new Error("expected Left")
  return e.left
}
const advanced = (a: Applied<ApprovalState, ApprovalCommand, Decided>) => {
  if (a._tag !== "Advanced") throw new Error(`expected Advanced, got Ignored: ${a.reason}`)
  return a
}
const ignoredOf = (a: Applied<ApprovalState, ApprovalCommand, Decided>) => {
  if (a._tag !== "Ignored") throw new Error("expected Ignored")
  return a
}

const requested: ApprovalEvent = { type: "Requested", id: "w1" }
const started = (): I => right(start(approval, requested, T0, { causationId: "m-1" })).instance
const timeout = (i: I, index = 0): ApprovalEvent => approval.timerEvent(i.timers[index]!)

describe("start", () => {
  it("numbers the first transition 1 and derives ids from it", () => {
    const r = right(start(approval, requested, T0, { causationId: "m-1" }))
    expect(r.transition).toBe(1)
    expect(r.commands).toEqual([{ id: "w1:1:0", kind: "command", message: { type: "Ask", id: "w1", attempt: 1 } }])
    expect(r.events).toEqual([])
    expect(r.timersSet).toEqual([{ workflowId: "w1", name: "approval", timerId: "w1:1:timer:approval", dueAt: T0 + TIMEOUT_MS, attempt: 1 }])
    expect(r.timersCleared).toEqual([])
    expect(r.instance).toEqual({
      workflow: "approval", workflowId: "w1", state: { _tag: "Pending", attempt: 1 }, terminal: false, transitions: 1,
      createdAt: T0, updatedAt: T0, timers: r.timersSet, outbox: r.commands,
      history: [{ seq: 1, event: "Requested", to: "Pending", at: T0, causationId: "m-1", commands: [{ id: "w1:1:0", type: "Ask" }], events: [] }]
    })
  })

  it("rejects an event that cannot start an instance, naming workflow, instance, state and event", () => {
    const e = left(start(approval, { type: "Approve", id: "w9" }, T0))
    expect(e).toBeInstanceOf(IllegalTransition)
    expect(e).toMatchObject({ _tag: "IllegalTransition", workflow: "approval", workflowId: "w9", state: "(none)", event: "Approve" })
    expect(e.message).toBe("approval w9: event Approve is not allowed in state (none): only Requested starts it")
  })

  it("records the trace id on the instance and in history when given", () => {
    const r = right(start(approval, requested, T0, { causationId: "m-1", traceId: "0af7651916cd43dd8448eb211c80319c" }))
    expect(r.instance.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
    expect(r.instance.history[0]!.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
  })

  it("omits causationId from history when none is given", () => {
    expect(right(start(approval, requested, T0)).instance.history[0]).not.toHaveProperty("causationId")
  })
})

describe("apply", () => {
  it("advances, numbering the transition and cancelling the named timer", () => {
    const i = started()
    const r = advanced(right(apply(approval, i, { type: "Approve", id: "w1" }, T0 + 10)))
    expect(r.transition).toBe(2)
    expect(r.commands).toEqual([])
    expect(r.events).toEqual([{ id: "w1:2:0", kind: "event", message: { type: "Decided", id: "w1", outcome: "approved" } }])
    expect(r.timersCleared).toEqual(i.timers)
    expect(r.timersSet).toEqual([])
    expect(r.instance).toMatchObject({ state: { _tag: "Approved" }, terminal: true, transitions: 2, updatedAt: T0 + 10, timers: [], createdAt: T0 })
    expect(r.instance.history.at(-1)).toEqual({ seq: 2, event: "Approve", from: "Pending", to: "Approved", at: T0 + 10, commands: [], events: [{ id: "w1:2:0", type: "Decided" }] })
    expect(r.instance.outbox.map((o) => o.id)).toEqual(["w1:1:0", "w1:2:0"])
  })

  it("is deterministic: re-running a transition on the same instance yields identical ids and instance", () => {
    const i = started()
    const a = right(apply(approval, i, { type: "Approve", id: "w1" }, T0 + 10))
    const b = right(apply(approval, i, { type: "Approve", id: "w1" }, T0 + 10))
    expect(b).toEqual(a)
  })

  it("does not mutate the input instance", () => {
    const i = started()
    const snapshot = structuredClone(i)
    right(apply(approval, i, timeout(i), T0 + TIMEOUT_MS))
    expect(i).toEqual(snapshot)
  })

  it("clears leftover timers when a transition is terminal", () => {
    const i = started()
    const r = advanced(right(apply(approval, i, { type: "Reject", id: "w1" }, T0 + 5)))
    expect(r.commands).toEqual([])
    expect(r.timersCleared).toEqual(i.timers)
    expect(r.instance.timers).toEqual([])
  })

  it("reports ignored events without changing the instance", () => {
    const i = started()
    const r = ignoredOf(right(apply(approval, i, { type: "Poke", id: "w1" }, T0 + 5)))
    expect(r).toEqual({ _tag: "Ignored", instance: i, changed: false, reason: "poked", timersCleared: [] })
  })

  it("propagates the definition's IllegalTransition with the instance id filled in", () => {
    const e = left(apply(approval, started(), { type: "Reopen", id: "w1" }, T0))
    expect(e).toMatchObject({ workflowId: "w1", state: "Pending", event: "Reopen", reason: "nothing to reopen" })
  })

  it("rejects an event correlated with another instance", () => {
    const e = left(apply(approval, started(), { type: "Approve", id: "w2" }, T0))
    expect(e.reason).toBe("the event belongs to instance w2")
  })

  describe("after a terminal state", () => {
    const done = () => advanced(right(apply(approval, started(), { type: "Approve", id: "w1" }, T0 + 1))).instance

    it("still lets the definition ignore a late duplicate", () => {
      const i = done()
      expect(ignoredOf(right(apply(approval, i, { type: "Approve", id: "w1" }, T0 + 2)))).toMatchObject({ changed: false, instance: i })
    })

    it("refuses an advance even if the definition proposes one", () => {
      const e = left(apply(approval, done(), { type: "Reopen", id: "w1" }, T0 + 2))
      expect(e).toMatchObject({ state: "Approved", event: "Reopen", reason: "the workflow has already finished" })
      expect(e.message).toContain("event Reopen is not allowed in state Approved")
    })

    it("still reports the definition's own rejection", () => {
      expect(left(apply(approval, done(), { type: "Poke", id: "w1" }, T0 + 2)).reason).toBe("already decided")
    })
  })
})

describe("timers through apply", () => {
  it("a current firing reaches the definition, is consumed, and a re-armed timer gets a new id", () => {
    const i = started()
    const r = advanced(right(apply(approval, i, timeout(i), T0 + TIMEOUT_MS)))
    expect(r.commands).toEqual([{ id: "w1:2:0", kind: "command", message: { type: "Ask", id: "w1", attempt: 2 } }])
    expect(r.timersCleared).toEqual(i.timers)
    expect(r.timersSet).toEqual([{ workflowId: "w1", name: "approval", timerId: "w1:2:timer:approval", dueAt: T0 + 2 * TIMEOUT_MS, attempt: 2 }])
    expect(r.instance.timers).toEqual(r.timersSet)
  })

  it("a superseded timer firing is stale and ignored before the definition", () => {
    const i = started()
    const first = timeout(i)
    const later = advanced(right(apply(approval, i, first, T0 + TIMEOUT_MS))).instance
    const r = ignoredOf(right(apply(approval, later, first, T0 + TIMEOUT_MS + 1)))
    expect(r).toEqual({ _tag: "Ignored", instance: later, changed: false, reason: "stale timer approval (w1:1:timer:approval)", timersCleared: [] })
  })

  it("a firing after the timer was cancelled is stale, even on a terminal instance", () => {
    const i = started()
    const done = advanced(right(apply(approval, i, { type: "Approve", id: "w1" }, T0 + 1))).instance
    expect(ignoredOf(right(apply(approval, done, timeout(i), T0 + TIMEOUT_MS))).reason).toMatch(/^stale timer/)
  })

  it("a firing with the right id but another name is stale", () => {
    const i = started()
    const forged: ApprovalEvent = { type: "TimedOut", id: "w1", name: "other", timerId: i.timers[0]!.timerId, attempt: 1 }
    expect(ignoredOf(right(apply(approval, i, forged, T0 + TIMEOUT_MS))).changed).toBe(false)
  })

  it("the last allowed firing finishes the workflow", () => {
    const i0 = started()
    const i1 = advanced(right(apply(approval, i0, timeout(i0), T0 + TIMEOUT_MS))).instance
    const r = advanced(right(apply(approval, i1, timeout(i1), T0 + 2 * TIMEOUT_MS)))
    expect(r.instance).toMatchObject({ state: { _tag: "Rejected" }, terminal: true, timers: [] })
    // Ids run over the commands first, then the events.
    expect(r.commands).toEqual([{ id: "w1:3:0", kind: "command", message: { type: "Withdraw", id: "w1" } }])
    expect(r.events).toEqual([{ id: "w1:3:1", kind: "event", message: { type: "Decided", id: "w1", outcome: "expired" } }])
    expect(r.instance.outbox.slice(-2)).toEqual([...r.commands, ...r.events])
    expect(r.instance.history.at(-1)).toMatchObject({ commands: [{ id: "w1:3:0", type: "Withdraw" }], events: [{ id: "w1:3:1", type: "Decided" }] })
    expect(r.timersCleared).toEqual(i1.timers)
  })

  it("a current firing the definition ignores is still consumed, so it cannot fire again", () => {
    const i = started()
    // Hand-craft a terminal instance that still holds a timer (e.g. written by an older version).
    const odd: I = { ...i, state: { _tag: "Approved" }, terminal: true }
    const r = ignoredOf(right(apply(approval, odd, timeout(i), T0 + TIMEOUT_MS)))
    expect(r).toMatchObject({ changed: true, reason: "decided", timersCleared: i.timers })
    expect(r.instance.timers).toEqual([])
    expect(r.instance.updatedAt).toBe(T0 + TIMEOUT_MS)
  })
})

describe("mustPersist", () => {
  it("is true for an advance and for an ignore that consumed a timer, false otherwise", () => {
    const i = started()
    expect(mustPersist(right(apply(approval, i, { type: "Approve", id: "w1" }, T0)))).toBe(true)
    expect(mustPersist(right(apply(approval, i, { type: "Poke", id: "w1" }, T0)))).toBe(false)
    const odd: I = { ...i, state: { _tag: "Approved" }, terminal: true }
    expect(mustPersist(right(apply(approval, odd, timeout(i), T0)))).toBe(true)
  })
})

describe("step", () => {
  it("starts without an instance and applies with one", () => {
    const first = advanced(right(step(approval, undefined, requested, T0)))
    expect(first.transition).toBe(1)
    expect(advanced(right(step(approval, first.instance, { type: "Approve", id: "w1" }, T0 + 1))).transition).toBe(2)
  })
})

describe("history, redelivery and outbox", () => {
  it("keeps at most historyLimit entries, dropping the oldest", () => {
    const wf = makeApprovalWorkflow(1)
    const i = right(start(wf, requested, T0)).instance
    const r = advanced(right(apply(wf, i, { type: "Approve", id: "w1" }, T0 + 1)))
    expect(r.instance.history.map((h) => h.seq)).toEqual([2])
  })

  it("recognises an already-applied message id", () => {
    const i = started()
    expect(alreadyApplied(i, "m-1")).toBe(true)
    expect(alreadyApplied(i, "m-2")).toBe(false)
  })

  it("outbox accumulates until marked published", () => {
    const i = advanced(right(apply(approval, started(), { type: "Approve", id: "w1" }, T0 + 1))).instance
    expect(markPublished(i, ["w1:1:0"]).outbox.map((o) => o.id)).toEqual(["w1:2:0"])
    expect(markPublished(i, new Set(["w1:1:0", "w1:2:0"])).outbox).toEqual([])
    expect(markPublished(i, []).outbox).toEqual(i.outbox)
  })
})
