import { Effect } from "effect"
import type { Delivery } from "../../delivery.js"
import type { Outcome } from "../../outcome.js"
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
 * One timer per stage instance serves every delivery in flight: forking a fiber with a schedule
 * per message halved the runner's throughput. The timer stops at the first tick with nothing in
 * flight and does not keep the process alive.
 */
interface Entry {
  readonly delivery: Delivery
  lastSignal: number
  left: boolean
}

export const heartbeat = (options: HeartbeatOptions): { readonly stage: Stage; readonly stop: () => void } => {
  const now = options.now ?? Date.now
  const interval = Math.max(100, Math.floor(options.ackWaitMs / 2))
  // Deliveries in flight, in a plain array: leaving only marks the entry (a Map's set and delete
  // per delivery were a tenth of the runner's time), and the array is compacted now and then.
  let active: Array<Entry> = []
  let left = 0
  const compact = () => {
    active = active.filter((e) => !e.left)
    left = 0
  }
  const leave = (entry: Entry) => {
    entry.left = true
    if (++left > 256 && left * 2 > active.length) compact()
  }
  let timer: ReturnType<typeof setInterval> | undefined
  const tick = () => {
    if (left > 0) compact()
    if (active.length === 0) {
      // Stopped from here rather than when the last delivery leaves: with quick handlers that is
      // after every message, and a timer made and cleared per message cost a third of the runner.
      clearInterval(timer)
      timer = undefined
      return
    }
    const t = now()
    for (const entry of active) {
      if (t - entry.lastSignal < interval) continue
      entry.lastSignal = t
      Effect.runFork(entry.delivery.working)
    }
  }
  const enter = (delivery: Delivery, since: number) => {
    const state: Entry = { delivery, lastSignal: since, left: false }
    active.push(state)
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
  // matchCauseEffect rather than onExit: no interruptibility region per message. An interrupted
  // delivery (the consumer's fiber, once the shutdown grace elapsed) is forgotten by `stop`, which
  // the runner calls when its workers ended. A delivery that never waits enters and leaves within
  // one synchronous run: no beat, only the fencing check (its handler may still have blocked the
  // event loop past the ack wait).
  const stage: Stage = (next) => (delivery) =>
    Effect.suspend(() => {
      const state = enter(delivery, now())
      return Effect.matchCauseEffect(next(delivery), {
        onSuccess: (outcome): Effect.Effect<Outcome> => {
          leave(state)
          // Whatever it came to: a stale nak or term could hit the current owner's delivery too.
          return overran(state.lastSignal) ? lostOwnership : Effect.succeed(outcome)
        },
        onFailure: (cause) => {
          leave(state)
          return Effect.failCause(cause)
        }
      })
    })
  return {
    stage,
    /** Forgets every delivery in flight: none is handled any more. */
    stop: () => {
      active = []
      left = 0
    }
  }
}
