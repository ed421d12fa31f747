import { Effect } from "effect"

/**
 * Bounds how long synchronous work runs without the event loop getting a turn. A stretch starts
 * with the first `exhausted()` call since control last returned to the event loop (noticed by one
 * setImmediate per stretch) and is exhausted after `ms`; `nextTurn` then resumes on a timer, so
 * timers and I/O run first. Every worker of a consumer shares one slice and one timer: a worker
 * that yields wakes no other into the same stretch's budget.
 */
export const makeTimeSlice = (ms: number) => {
  let started: number | undefined
  let marked = false
  const endStretch = () => {
    marked = false
    started = undefined
  }
  let waiters: Array<() => void> | undefined
  const resumeAll = () => {
    const ready = waiters ?? []
    waiters = undefined
    endStretch()
    for (const resume of ready) resume()
  }
  return {
    /** True once this stretch of synchronous work has run longer than the slice. */
    exhausted: (): boolean => {
      const now = performance.now()
      if (started === undefined) started = now
      if (!marked) {
        marked = true
        setImmediate(endStretch)
      }
      return now - started > ms
    },
    /** Resumes after the event loop ran its timers (a timer, not setImmediate: an immediate set from an I/O callback runs before them). */
    nextTurn: Effect.async<void>((resume) => {
      const wake = () => resume(Effect.void)
      if (waiters === undefined) {
        waiters = []
        setTimeout(resumeAll, 0)
      }
      const mine = waiters
      mine.push(wake)
      return Effect.sync(() => {
        const i = mine.indexOf(wake)
        if (i >= 0) mine.splice(i, 1)
      })
    })
  }
}
