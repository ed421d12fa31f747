import { Chunk, Effect } from "effect"
import { cancellableAsync } from "./effect-adapter.js"

/**
 * Moves deliveries from one feeding fiber to a pool of worker fibers without an Effect per item:
 * `poll` is a plain call, so a busy worker goes from one delivery to the next without leaving its
 * run loop. Workers park (`waitForWork`) only when nothing is buffered. An offer wakes one; more
 * are woken only if items are still waiting once the running workers yielded (a microtask later):
 * with quick handlers one worker takes the whole chunk, and waking a worker per item only made
 * them park again, while a handler that suspends leaves its items to the workers woken then.
 * The feeder waits in `offer` until the workers took everything, so at most one chunk is buffered.
 */
export const makeHandoff = <A>() => {
  let items: Array<A> = []
  let head = 0
  let done = false
  const parked: Array<() => void> = []
  let drained: (() => void) | undefined
  const wake = (n: number) => {
    for (let i = 0; i < n && parked.length > 0; i++) parked.pop()!()
  }
  let checkScheduled = false
  const wakeForWaiting = () => {
    checkScheduled = false
    wake(items.length - head)
  }
  const scheduleCheck = () => {
    if (checkScheduled) return
    checkScheduled = true
    queueMicrotask(wakeForWaiting)
  }
  return {
    poll: (): A | undefined => {
      if (head === items.length) return undefined
      const item = items[head++]!
      if (head < items.length) scheduleCheck()
      else {
        items = []
        head = 0
        const d = drained
        drained = undefined
        d?.()
      }
      return item
    },
    ended: (): boolean => done && head === items.length,
    /** Resumes when an item was offered or the feed ended (the worker polls again to find out which). */
    waitForWork: cancellableAsync<void>((resume) => {
      if (head < items.length || done) return resume(Effect.void)
      const wakeUp = () => resume(Effect.void)
      parked.push(wakeUp)
      return Effect.sync(() => {
        const i = parked.indexOf(wakeUp)
        if (i >= 0) parked.splice(i, 1)
      })
    }),
    offer: (chunk: Chunk.Chunk<A>): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        const added = Chunk.toReadonlyArray(chunk)
        if (added.length === 0) return resume(Effect.void)
        items = head === items.length ? added.slice() : items.slice(head).concat(added)
        head = 0
        drained = () => resume(Effect.void)
        wake(1)
        return Effect.sync(() => {
          drained = undefined
        })
      }),
    end: (): void => {
      done = true
      wake(parked.length)
      const d = drained
      drained = undefined
      d?.()
    }
  }
}
