import { Effect, Fiber, Schedule } from "effect"
import type { Middleware } from "../step.js"

/**
 * Keeps a long handler's message: sends `working()` every half ack wait so the server does not
 * redeliver it underneath. If the handler still overran the ack wait without a heartbeat (event
 * loop stalled, heartbeats disabled), another delivery may own the message now, and this one must
 * neither commit nor ack (nats-server #4786): the outcome becomes LostOwnership.
 */
export const heartbeat = (options: { readonly ackWaitMs: number; readonly now?: () => number }): Middleware => (next) => (delivery) => {
  const now = options.now ?? Date.now
  const interval = Math.max(100, Math.floor(options.ackWaitMs / 2))
  return Effect.gen(function* () {
    let lastSignal = now()
    const beat = delivery.working.pipe(
      Effect.tap(() => Effect.sync(() => (lastSignal = now()))),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.delay(interval)
    )
    const beating = yield* Effect.fork(beat)
    const outcome = yield* next(delivery).pipe(Effect.ensuring(Fiber.interrupt(beating)))
    if (outcome._tag === "Processed" && now() - lastSignal > options.ackWaitMs) return { _tag: "LostOwnership" } as const
    return outcome
  })
}
