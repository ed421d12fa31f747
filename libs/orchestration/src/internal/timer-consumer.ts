import { consumerCheckName, isWrongLastSequence, type NatsClient } from "@conveyor/nats"
import { Readiness } from "@conveyor/telemetry"
import { PendingTimer } from "@conveyor/workflow"
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream"
import { Effect, Either, Option, Schema, type Scope } from "effect"
import type { RunningScheduler, TimerBucket } from "../timers.js"

const decodeTimer = Schema.decodeUnknownEither(Schema.parseJson(PendingTimer))
const text = new TextDecoder()

/** Where the timers' durable reads: the stream behind the bucket, every key. */
export const timerConsumerOf = (bucket: string, durable: string) => ({
  stream: `KV_${bucket}`,
  durable,
  filterSubject: `$KV.${bucket}.>`
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
 * Fires each timer once across every replica: the timers' bucket is read by one durable consumer
 * that all replicas pull from (competing consumers), so each stored timer is delivered to one
 * replica at a time. A timer not yet due goes back with `nak(due - now)`: the server holds it and
 * delivers it again when due, to whichever replica pulls then, so a timer set before a restart
 * (or on a replica that died) still fires. At its time, a timer overwritten or deleted since is
 * acked unfired (its newer revision has a delivery of its own); else its event is published, the
 * key deleted at that revision, and only then the delivery acked. A crash in between delivers it
 * again after the ack wait and the event is published under the same id, which the stream drops.
 */
export const runSharedTimerScheduler = (options: SharedTimerSchedulerOptions): Effect.Effect<RunningScheduler, never, Scope.Scope> =>
  Effect.gen(function* () {
    const now = options.now ?? Date.now
    const retryMs = options.retryMs ?? 1_000
    const stream = `KV_${options.timers.name}`
    let fired = 0
    const keyOf = (m: JsMsg) => m.subject.slice(`$KV.${options.timers.name}.`.length)

    // Deleted only at the revision that fired: a timer re-armed under the key meanwhile stays.
    const removeAt = (key: string, revision: number) =>
      Effect.tryPromise({ try: () => options.timers.kv.delete(key, { previousSeq: revision }), catch: (e) => e }).pipe(
        Effect.catchIf(isWrongLastSequence, () => Effect.void)
      )

    const step = (m: JsMsg): Effect.Effect<Step> => {
      const operation = m.headers?.get("KV-Operation")
      if (operation === "DEL" || operation === "PURGE") return Effect.succeed("ack")
      const timer = decodeTimer(text.decode(m.data))
      if (Either.isLeft(timer)) return Effect.logWarning("undecodable timer dropped", { key: keyOf(m) }).pipe(Effect.as("ack" as const))
      const wait = timer.right.dueAt - now()
      if (wait > 0) return Effect.succeed({ nakMs: wait })
      const key = keyOf(m)
      return options.timers.get(key).pipe(
        Effect.flatMap((current) =>
          current?.revision !== m.seq
            ? Effect.succeed("ack" as const)
            : options.fire(timer.right).pipe(
                Effect.zipRight(removeAt(key, m.seq)),
                Effect.tap(() => Effect.sync(() => void fired++)),
                Effect.as("ack" as const)
              )),
        Effect.catchAll((e) =>
          Effect.logWarning("timer not fired yet; will try again", { timerId: timer.right.timerId, error: String(e) }).pipe(Effect.as({ nakMs: retryMs })))
      )
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
        // Each message settles on its own; a slow firing does not hold the others back.
        void Effect.runPromiseExit(Effect.provide(step(m), runtime.context)).then((exit) => {
          if (exit._tag === "Failure") return m.nak(retryMs)
          const result = exit.value
          if (result === "ack") m.ack()
          else m.nak(result.nakMs)
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
