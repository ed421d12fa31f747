// Child process of the RSS figure, Conveyor side: runJetStreamConsumer with the app defaults.
import { defineHandler, makeRetryPolicy, tapResult } from "@conveyor/messaging"
import { makeNatsConfig, NatsConnectionLive, runJetStreamConsumer } from "@conveyor/nats"
import { Deferred, Effect, Exit, Logger, LogLevel, Schema } from "effect"
import { concurrency, count, durable, measureDrain, stream, url } from "./drain-common.js"

await measureDrain(() =>
  Effect.gen(function* () {
    const done = yield* Deferred.make<void>()
    let settled = 0
    const handler = defineHandler({ schema: Schema.Struct({ id: Schema.Number, pad: Schema.String }), handle: () => Effect.void, errors: {} })
    yield* runJetStreamConsumer(handler, {
      consumer: { stream, durable, ackWaitMs: 30_000, maxDeliver: -1, maxAckPending: 1_000, deliverPolicy: "all" },
      retry: makeRetryPolicy({ maxAttempts: 5 }),
      concurrency,
      deadLetters: false, // the handler never fails, and the bench stream has no dead-letter stream beside it
      middlewares: [tapResult(() => {
        if (++settled === count) Deferred.unsafeDone(done, Exit.void)
      })]
    })
    yield* Deferred.await(done)
  }).pipe(
    Effect.scoped,
    Effect.provide(NatsConnectionLive(makeNatsConfig({ servers: [url], name: "bench-drain" }))),
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.runPromise
  )
)
