// A worker process for the shutdown tests: consumes <stream>/worker with a slow handler, writing
// "start <id>" and "done <id>" to a ledger file, and stops the way apps do (runMain).
import { defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { Duration, Effect, Layer, Logger, Schema } from "effect"
import { appendFileSync } from "node:fs"
import { makeNatsConfig, NatsConnectionLive, runJetStreamConsumer, runMain } from "../src/index.js"

const [url, stream, ledger, handlerMs, graceMs] = process.argv.slice(2) as [string, string, string, string, string]
const Job = Schema.Struct({ id: Schema.String })

const handler = defineHandler({
  schema: Job,
  handle: (job) =>
    Effect.sync(() => appendFileSync(ledger, `start ${job.id}\n`)).pipe(
      Effect.zipRight(Effect.sleep(Duration.millis(Number(handlerMs)))),
      Effect.zipRight(Effect.sync(() => appendFileSync(ledger, `done ${job.id}\n`)))
    ),
  errors: {}
})

const main = Effect.gen(function* () {
  yield* runJetStreamConsumer(handler, {
    consumer: { stream, durable: "worker", ackWaitMs: 5_000, maxDeliver: -1, maxAckPending: 1_000, deliverPolicy: "all" },
    retry: makeRetryPolicy({ maxAttempts: 5 }),
    concurrency: 4,
    shutdownGraceMs: Number(graceMs),
    deadLetters: false
  })
  process.stdout.write("ready\n")
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(NatsConnectionLive(makeNatsConfig({ servers: [url], name: "shutdown-worker" })).pipe(Layer.orDie)),
  Effect.provide(Logger.json)
)

runMain(main)
