import type { RunningConsumer } from "@conveyor/messaging"
import { Cause, Context, Data, Deferred, Effect, Exit, Layer, Option, type Scope } from "effect"
import { NatsConnection } from "./connection.js"
import type { ConnectionLost } from "./errors.js"

/** A consumer stopped by itself (its connection lost for good, its durable deleted): the app cannot do its job. */
export class ConsumerStopped extends Data.TaggedError("ConsumerStopped")<{ readonly consumer: string; readonly reason: string }> {
  override get message() {
    return `consumer ${this.consumer} stopped: ${this.reason}`
  }
}

export type FatalFailure = ConsumerStopped | ConnectionLost

/**
 * Where a long-running part of the app reports that it stopped for good. An app waits on
 * `failed` next to its layers, so a dead consumer ends the process (exit 1) and the
 * orchestrator restarts it, instead of a process that answers /healthz but does nothing.
 */
export class Supervision extends Context.Tag("@conveyor/nats/Supervision")<
  Supervision,
  { readonly report: (failure: FatalFailure) => Effect.Effect<void>; readonly failed: Effect.Effect<never, FatalFailure> }
>() {}

export const SupervisionLive = Layer.effect(
  Supervision,
  Effect.map(Deferred.make<never, FatalFailure>(), (deferred) => ({
    report: (failure) => Effect.asVoid(Deferred.fail(deferred, failure)),
    failed: Deferred.await(deferred)
  }))
)

/**
 * Reports the consumer when it ends while its scope is open. The watcher is interrupted before the
 * scope stops the consumer, so a graceful stop is never reported.
 */
export const superviseConsumer = (running: RunningConsumer): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.serviceOption(Supervision), (supervision) =>
    Option.isNone(supervision)
      ? Effect.void
      : Effect.asVoid(
          Effect.forkScoped(
            Effect.flatMap(Effect.exit(running.done), (exit) =>
              supervision.value.report(
                new ConsumerStopped({
                  consumer: running.name,
                  reason: Exit.isSuccess(exit) ? "it ended" : (Cause.pretty(exit.cause).split("\n")[0] ?? "failed")
                })
              )
            )
          )
        )
  )

/** Reports the connection when it is lost for good (after NATS_RECONNECT_FOR), when the app is supervised. */
export const SuperviseConnectionLive: Layer.Layer<never, never, NatsConnection> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const supervision = yield* Effect.serviceOption(Supervision)
    if (Option.isSome(supervision)) yield* Effect.forkScoped(Effect.catchAll(client.lost, supervision.value.report))
  })
)

/**
 * Builds `app` and runs until it is interrupted (a signal) or one of its parts reports that it
 * stopped for good, which fails with that report (and releases the app).
 */
export const launchSupervised = <A, E, R>(app: Layer.Layer<A, E, R>): Effect.Effect<never, E | FatalFailure, R> =>
  Effect.scoped(
    Effect.flatMap(Layer.build(Layer.provideMerge(app, SupervisionLive)), (context) => Context.get(context as Context.Context<Supervision>, Supervision).failed)
  )
