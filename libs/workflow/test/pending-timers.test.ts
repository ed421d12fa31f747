import { Option, Schema } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { dueTimers, nextDueAt, planTimers, type PendingTimer, TimerRequest, timerStatus, Transition } from "../src/index.js"
import { PendingTimerJson } from "../src/timer-data.js"

const timer = (name: string, dueAt: number, timerId = `w:1:timer:${name}`): PendingTimer =>
  ({ workflowId: "w", name, timerId, dueAt, attempt: 1 })
const at = { workflowId: "w", transition: 7, now: 1_000, terminal: false }

describe("planTimers", () => {
  it("sets a timer due afterMs from now with an id from the transition", () => {
    const plan = planTimers([], [TimerRequest.set("a", 500, 3)], at)
    const expected = { workflowId: "w", name: "a", timerId: "w:7:timer:a", dueAt: 1_500, attempt: 3 }
    expect(plan).toEqual({ pending: [expected], set: [expected], cleared: [] })
  })

  it("defaults the attempt to 1 and clamps a negative delay to now", () => {
    expect(planTimers([], [TimerRequest.set("a", -5)], at).set[0]).toMatchObject({ dueAt: 1_000, attempt: 1 })
  })

  it("supersedes a pending timer of the same name", () => {
    const old = timer("a", 900)
    const plan = planTimers([old], [TimerRequest.set("a", 100)], at)
    expect(plan.cleared).toEqual([old])
    expect(plan.pending.map((t) => t.timerId)).toEqual(["w:7:timer:a"])
  })

  it("cancels by name and leaves other timers alone", () => {
    const a = timer("a", 900)
    const b = timer("b", 950)
    expect(planTimers([a, b], [TimerRequest.cancel("a")], at)).toEqual({ pending: [b], set: [], cleared: [a] })
  })

  it("treats cancelling an unknown timer as a no-op", () => {
    expect(planTimers([], [TimerRequest.cancel("nope")], at)).toEqual({ pending: [], set: [], cleared: [] })
  })

  it("forgets a timer set and cancelled within one transition", () => {
    expect(planTimers([], [TimerRequest.set("a", 1), TimerRequest.cancel("a")], at)).toEqual({ pending: [], set: [], cleared: [] })
  })

  it("keeps only the last of two sets of one name within one transition", () => {
    const plan = planTimers([], [TimerRequest.set("a", 1), TimerRequest.set("a", 2)], at)
    expect(plan.set).toEqual([{ workflowId: "w", name: "a", timerId: "w:7:timer:a", dueAt: 1_002, attempt: 1 }])
    expect(plan.cleared).toEqual([])
  })

  it("drops everything on a terminal transition, reporting only what had been stored", () => {
    const a = timer("a", 900)
    const plan = planTimers([a], [TimerRequest.set("b", 10)], { ...at, terminal: true })
    expect(plan).toEqual({ pending: [], set: [], cleared: [a] })
  })
})

describe("dueTimers / nextDueAt", () => {
  const timers = [timer("late", 300), timer("early", 100), timer("future", 1_000)]

  it("returns due timers earliest first, including one due exactly now", () => {
    expect(dueTimers({ timers }, 300).map((t) => t.name)).toEqual(["early", "late"])
    expect(dueTimers({ timers }, 99)).toEqual([])
  })

  it("gives the earliest due time, or none", () => {
    expect(nextDueAt({ timers })).toEqual(Option.some(100))
    expect(nextDueAt({ timers: [] })).toEqual(Option.none())
  })
})

describe("timerStatus", () => {
  const a = timer("a", 100)

  it("is pending only for the same id and name", () => {
    expect(timerStatus({ timers: [a] }, { name: "a", timerId: a.timerId })).toBe("pending")
    expect(timerStatus({ timers: [a] }, { name: "a", timerId: "w:0:timer:a" })).toBe("stale")
    expect(timerStatus({ timers: [a] }, { name: "b", timerId: a.timerId })).toBe("stale")
  })

  it("is stale when there is no instance", () => {
    expect(timerStatus(undefined, { name: "a", timerId: a.timerId })).toBe("stale")
  })
})

describe("PendingTimerJson", () => {
  it("round-trips a timer as a KV value", () => {
    const t = timer("a", 5)
    expect(Schema.decodeUnknownSync(PendingTimerJson)(Schema.encodeSync(PendingTimerJson)(t))).toEqual(t)
    expect(() => Schema.decodeUnknownSync(PendingTimerJson)("{\"name\":\"a\"}")).toThrow(/workflowId/)
  })
})

describe("Transition", () => {
  it("builds advances with defaults and ignores, with guards", () => {
    const a = Transition.advance("s")
    expect(a).toEqual({ _tag: "Advance", state: "s", commands: [], events: [], timers: [], terminal: false })
    expect(Transition.isAdvance(a)).toBe(true)
    const i = Transition.ignore("dup")
    expect(Transition.isIgnore(i)).toBe(true)
    expect(Transition.isAdvance(i)).toBe(false)
    expect(TimerRequest.set("t", 5)).toEqual({ _tag: "SetTimer", name: "t", afterMs: 5, attempt: 1 })
    expect(TimerRequest.cancel("t")).toEqual({ _tag: "CancelTimer", name: "t" })
  })
})
