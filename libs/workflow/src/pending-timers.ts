// What a transition does to an instance's pending timers (planTimers), and what the engine and the
// runtime ask of them: which are due, when the next is, whether a firing is stale.
import { Option } from "effect"
import { timerId } from "./ids.js"
import type { PendingTimer, TimerFiring, TimerRequest } from "./timer-data.js"

/** What one transition does to the pending timers; the runtime mirrors `set`/`cleared` into its timer store. */
export interface TimerPlan {
  readonly pending: ReadonlyArray<PendingTimer>
  readonly set: ReadonlyArray<PendingTimer>
  readonly cleared: ReadonlyArray<PendingTimer>
}

/**
 * Applies timer requests in order. A timer set and then superseded or cancelled within the same
 * transition was never stored, so it shows up in neither `set` nor `cleared`.
 */
export const planTimers = (
  pending: ReadonlyArray<PendingTimer>,
  requests: ReadonlyArray<TimerRequest>,
  at: { readonly workflowId: string; readonly transition: number; readonly now: number; readonly terminal: boolean }
): TimerPlan => {
  let current = [...pending]
  const cleared: Array<PendingTimer> = []
  const drop = (name: string) => {
    const old = current.find((t) => t.name === name)
    if (old === undefined) return
    current = current.filter((t) => t !== old)
    if (pending.includes(old)) cleared.push(old)
  }
  for (const request of requests) {
    drop(request.name)
    if (request._tag === "SetTimer") {
      current.push({
        workflowId: at.workflowId,
        name: request.name,
        timerId: timerId(at.workflowId, at.transition, request.name),
        dueAt: at.now + Math.max(0, request.afterMs),
        attempt: request.attempt
      })
    }
  }
  if (at.terminal) {
    // A finished instance waits for nothing; leftover timers would only fire as stale events.
    for (const t of current) if (pending.includes(t)) cleared.push(t)
    current = []
  }
  return { pending: current, set: current.filter((t) => !pending.includes(t)), cleared }
}

interface HasTimers {
  readonly timers: ReadonlyArray<PendingTimer>
}

/** Timers due at `now`, earliest first. */
export const dueTimers = (instance: HasTimers, now: number): ReadonlyArray<PendingTimer> =>
  instance.timers.filter((t) => t.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt)

/** When the runtime should next look at this instance, if it waits for a timer at all. */
export const nextDueAt = (instance: HasTimers): Option.Option<number> =>
  instance.timers.length === 0 ? Option.none() : Option.some(Math.min(...instance.timers.map((t) => t.dueAt)))

/**
 * Whether a firing still counts. Ids are unique per transition, so a timer that was cancelled,
 * superseded by a newer one of the same name, or already fired is no longer pending under its id.
 */
export const timerStatus = (instance: HasTimers | undefined, firing: TimerFiring): "pending" | "stale" =>
  instance?.timers.some((t) => t.timerId === firing.timerId && t.name === firing.name) === true ? "pending" : "stale"
