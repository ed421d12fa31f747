import { Effect, type Fiber } from "effect"
import type { Delivery } from "../delivery.js"
import type { Outcome } from "../outcome.js"
import type { Stage } from "../stage.js"

export interface HeartbeatOptions {
  readonly ackWaitMs: number
  /** Clock for the fencing check (tests). */
  readonly now?: () => number
}

/**
 * Keeps a long handler's message: sends `working()` once a delivery has gone half an ack wait
 * without a signal, so the server does not redeliver it underneath. If the handler still overran
 * the ack wait without a signal (event loop stalled), another delivery may own the message now,
 * and this one must neither commit nor ack (nats-server #4786): the outcome becomes LostOwnership.
 *
 * One timer per middleware instance serves every delivery in flight: forking a fiber with a
 * schedule per message halved the runner's throughput. The timer stops at the first tick with
 * nothing in flight and does not keep the process alive.
 */
export const heartbeat = (options: HeartbeatOptions): Stage => {
  const now = options.now ?? Date.now
  const interval = Math.max(100, Math.floor(options.ackWaitMs / 2))
  // The fiber is kept so that a delivery whose fiber was interrupted (the shutdown grace elapsed:
  // no handler of ours runs then) is dropped at the next tick instead of being kept alive forever.
  const active = new Map<Delivery, { lastSignal: number; readonly fiber: Fiber.RuntimeFiber<unknown, unknown> }>()
  let timer: ReturnType<typeof setInterval> | undefined
  const tick = () => {
    if (active.size === 0) {
      // Stopped from here rather than when the last delivery leaves: with quick handlers that is
      // after every message, and a timer made and cleared per message cost a third of the runner.
      clearInterval(timer)
      timer = undefined
      return
    }
    const t = now()
    for (const [delivery, state] of active) {
      if (state.fiber.unsafePoll() !== null) {
        active.delete(delivery)
        continue
      }
      if (t - state.lastSignal < interval) continue
      state.lastSignal = t
      Effect.runFork(delivery.working)
    }
  }
  const enter = (delivery: Delivery, fiber: Fiber.RuntimeFiber<unknown, unknown>, since: number) => {
    const state = { lastSignal: since, fiber }
    active.set(delivery, state)
    if (timer === undefined) {
      // A quarter interval keeps every beat within 1.25 intervals (0.625 ack wait) of the last.
      timer = setInterval(tick, Math.max(25, Math.floor(interval / 4)))
      timer.unref()
    }
    return state
  }
  const lostOwnership: Effect.Effect<Outcome> = Effect.succeed({ _tag: "LostOwnership" })
  /** No signal for longer than the ack wait: another delivery may own the message now. */
  const overran = (lastSignal: number) => now() - lastSignal > options.ackWaitMs
  // matchCauseEffect rather than onExit or acquireUseRelease: no interruptibility region per
  // message; an interrupted fiber is cleaned up by the tick instead. A delivery that never waits
  // is registered and removed within one synchronous run: the timer never sees it, and only the
  // fencing check applies (its handler may still have blocked the event loop past the ack wait).
  return (next) => (delivery) =>
    Effect.withFiberRuntime((fiber) => {
      const state = enter(delivery, fiber, now())
      return Effect.matchCauseEffect(next(delivery), {
        onSuccess: (outcome): Effect.Effect<Outcome> => {
          active.delete(delivery)
          // Whatever it came to: a stale nak or term could hit the current owner's delivery too.
          return overran(state.lastSignal) ? lostOwnership : Effect.succeed(outcome)
        },
        onFailure: (cause) => {
          active.delete(delivery)
          return Effect.failCause(cause)
        }
      })
    })
}
