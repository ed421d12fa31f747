import { Effect } from "effect"
import type { Delivery } from "../delivery.js"
import type { Middleware } from "../middleware.js"

export interface OnePerKeyOptions {
  /** The key whose deliveries are handled one at a time; undefined: the delivery waits for nothing. */
  readonly keyOf: (delivery: Delivery) => string | undefined
  /** The consumer's ack wait: a delivery waiting for its turn signals `working()` every half of it. */
  readonly ackWaitMs: number
}

/**
 * Deliveries of one key are handled one at a time in this consumer, in the order they arrived:
 * each starts once the one before it was handled, its outputs published and its settlement sent.
 * So what a handler decides about a key and the messages it answers with come out in one order:
 * the handler of a later delivery sees what the earlier one wrote, and its answer is published
 * after the earlier one's (the runtime publishes outputs after the handler returns, so a lock
 * inside the handler would not cover them). Within one process only: replicas of a consumer each
 * take whatever they pull.
 *
 * With no other delivery of its key in flight a delivery waits for nothing: a map lookup and an
 * exit hook, no fiber and no timer. One that waits keeps its message (`working()`), as the
 * heartbeat stage would if it were running.
 */
export const oneAtATimePerKey = (options: OnePerKeyOptions): Middleware => {
  // Keys with a delivery in flight, each with the wake-ups of those waiting behind it, oldest first.
  const lanes = new Map<string, Array<() => void>>()
  const beatMs = Math.max(100, Math.floor(options.ackWaitMs / 2))
  /** The key's delivery in flight finished: the oldest waiting one goes, or the key is free. */
  const pass = (key: string) => {
    const next = lanes.get(key)?.shift()
    if (next === undefined) lanes.delete(key)
    else next()
  }
  /** Resumes once every delivery of the key ahead of this one finished; this one then holds the key. */
  const turn = (delivery: Delivery, waiting: Array<() => void>, holds: { value: boolean }) =>
    Effect.async<void>((resume) => {
      const beats = setInterval(() => Effect.runFork(delivery.working), beatMs)
      beats.unref()
      const wake = () => {
        clearInterval(beats)
        holds.value = true
        resume(Effect.void)
      }
      waiting.push(wake)
      return Effect.sync(() => {
        clearInterval(beats)
        const i = waiting.indexOf(wake)
        if (i >= 0) waiting.splice(i, 1)
      })
    })
  return (next) => (delivery) =>
    Effect.suspend(() => {
      const key = options.keyOf(delivery)
      if (key === undefined) return next(delivery)
      const waiting = lanes.get(key)
      if (waiting === undefined) {
        lanes.set(key, [])
        return Effect.onExit(next(delivery), () => Effect.sync(() => pass(key)))
      }
      // Interrupted while waiting, it never held the key; woken and then interrupted, it passes it on.
      const holds = { value: false }
      return Effect.onExit(Effect.zipRight(turn(delivery, waiting, holds), next(delivery)), () =>
        Effect.sync(() => {
          if (holds.value) pass(key)
        })
      )
    })
}
