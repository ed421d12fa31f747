import { consumerCheckName, type NatsClient } from "@conveyor/nats"
import { Readiness } from "@conveyor/telemetry"
import type { PendingTimer } from "@conveyor/workflow"
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream"
import { Effect, Either, Option, Schema, type Scope } from "effect"
import { earliestDue, InstanceTimers, type RunningScheduler, type TimerBucket } from "../timers.js"

const decodeTimers = Schema.decodeUnknownEither(Schema.parseJson(InstanceTimers))
const text = new TextDecoder()

/** Where the timers' durable reads: the stream behind the bucket, every key. */
export const timerConsumerOf = (bucket: string, durable: string) => ({
  stream: `KV_${bucket}`,
  durable,
  filterSubjects: [`$KV.${bucket}.>`]
})

export interface SharedTimerSchedulerOptions {
  readonly client: NatsClient
  readonly timers: TimerBucket
  /** A durable on the bucket's stream (`timerConsumerOf`) that every replica of the workflow shares. */
  readonly durable: string
  /** Publishes the timer's firing event under a message id of its own (a double firing is dropped). */
  readonly fire: (timer: PendingTimer) => Effect.Effect<void, unknown>
  readonly now?: () => number
  /** Delay before a failed firing is tried again. */
  readonly retryMs?: number
}

type Step = "ack" | { readonly nakMs: number }

/**
 * Fires each timer once across every replica: the timers' bucket (an instance's pending timers
 * under its key) is read by one durable consumer that all replicas pull from (competing
 * consumers), so each stored entry is delivered to one replica at a time. An entry whose timers
 * are not yet due goes back with `nak(due - now)`: the server holds it and delivers it again when
 * due, to whichever replica pulls then, so a timer set before a restart (or on a replica that died)
 * still fires. An entry overwritten since (the instance's next transition) is gone from the stream
 * (history 1) or, when due, found not current and acked unfired: its newer revision has a delivery
 * of its own. At its time, each due timer's event is published; then the key is deleted at that
 * revision, or rewritten without the fired timers when others are still to come (a delivery of its
 * own), and only then is the delivery acked. A crash in between delivers it again after the ack
 * wait and the events are published under the same ids, which the stream drops.
 */
export const runSharedTimerScheduler = (options: SharedTimerSchedulerOptions): Effect.Effect<RunningScheduler, never, Scope.Scope> =>
  Effect.gen(function* () {
    const now = options.now ?? Date.now
    const retryMs = options.retryMs ?? 1_000
    const stream = `KV_${options.timers.name}`
    let fired = 0
    const keyOf = (m: JsMsg) => m.subject.slice(`$KV.${options.timers.name}.`.length)

    const fireDue = (m: JsMsg, key: string, entry: InstanceTimers): Effect.Effect<Step> => {
      const t = now()
      const due = entry.timers.filter((timer) => timer.dueAt <= t)
      const later = entry.timers.filter((timer) => timer.dueAt > t)
      // At the revision that fired only: timers re-armed under the key meanwhile stay. The fired
      // ones leave the entry (deleted once none is left); the rest are delivered again when due.
      const forget = later.length === 0
        ? options.timers.remove(key, m.seq)
        : Effect.ignore(Effect.catchTag(options.timers.update(key, { ...entry, timers: later }, m.seq), "RevisionConflict", () => Effect.void))
      return options.timers.get(key).pipe(
        Effect.flatMap((current) =>
          current?.revision !== m.seq
            ? Effect.succeed<Step>("ack")
            : Effect.forEach(due, (timer) => Effect.zipRight(options.fire(timer), Effect.sync(() => void fired++)), { discard: true }).pipe(
                Effect.zipRight(forget),
                Effect.as<Step>("ack")
              )),
        Effect.catchAll((e) => Effect.logWarning("timer not fired yet; will try again", { key, error: String(e) }).pipe(Effect.as<Step>({ nakMs: retryMs })))
      )
    }

    /** What to do with a delivery: decided by plain calls unless a timer is due (almost every delivery). */
    const step = (m: JsMsg): Step | Effect.Effect<Step> => {
      const operation = m.headers?.get("KV-Operation")
      if (operation === "DEL" || operation === "PURGE") return "ack"
      const stored = decodeTimers(text.decode(m.data))
      if (Either.isLeft(stored)) return Effect.logWarning("undecodable timers dropped", { key: keyOf(m) }).pipe(Effect.as<Step>("ack"))
      if (stored.right.timers.length === 0) return "ack"
      const wait = earliestDue(stored.right.timers) - now()
      return wait > 0 ? { nakMs: wait } : fireDue(m, keyOf(m), stored.right)
    }
    const settle = (m: JsMsg, result: Step) => {
      if (result === "ack") m.ack()
      else m.nak(result.nakMs)
    }

    const consumer = yield* Effect.promise(() => options.client.js.consumers.get(stream, options.durable))
    const messages = yield* Effect.acquireRelease(
      Effect.promise((): Promise<ConsumerMessages> => consumer.consume({ max_messages: 256 })),
      (iterator) => Effect.promise(() => iterator.close().then(() => undefined, () => undefined))
    )
    // With Readiness provided, "consumer <stream>/<durable>" shows on /readyz like any consumer's.
    const readiness = yield* Effect.serviceOption(Readiness)
    const flag = Option.isSome(readiness) ? Option.some(yield* readiness.value.flag(consumerCheckName(`${stream}/${options.durable}`), true)) : Option.none()
    let stopping = false
    yield* Effect.addFinalizer(() => Effect.sync(() => void (stopping = true)))
    const runtime = yield* Effect.runtime<never>()
    yield* Effect.forkScoped(Effect.promise(async () => {
      for await (const m of messages) {
        const decided = step(m)
        if (!Effect.isEffect(decided)) {
          settle(m, decided)
          continue
        }
        // Each message settles on its own; a slow firing does not hold the others back.
        void Effect.runPromiseExit(Effect.provide(decided, runtime.context)).then((exit) => {
          if (exit._tag === "Failure") return m.nak(retryMs)
          settle(m, exit.value)
        })
      }
    }).pipe(
      Effect.zipRight(Effect.suspend(() => (stopping || Option.isNone(flag) ? Effect.void : flag.value.set(false, "stopped"))))
    ))
    return {
      pending: Effect.promise(() => consumer.info().then((i) => i.num_pending + i.num_ack_pending, () => 0)),
      fired: Effect.sync(() => fired)
    }
  })
