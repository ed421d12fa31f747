// The example until the order workflow lands: starts a local nats-server (unless NATS_URL is
// set), publishes typed events and processes them with the runner, then prints what happened.
import { defineHandler, makeRetryPolicy, Publisher, encodeMessage } from "@conveyor/messaging"
import { ensureTopology, JetStreamPublisherLive, makeNatsConfig, NatsConnectionLive, runJetStreamConsumer } from "@conveyor/nats"
import { LocalNatsProcess } from "@conveyor/testing"
import { defineTopology } from "@conveyor/topology"
import { Deferred, Effect, Layer, Logger, LogLevel, Schema } from "effect"

const Greeting = Schema.Struct({ id: Schema.Number, text: Schema.String })
const count = Number(process.env["DEMO_MESSAGES"] ?? 1_000)

const topology = defineTopology({
  streams: [{ name: "DEMO", subjects: ["demo.>"], maxAgeMs: 3_600_000 }],
  consumers: [{ stream: "DEMO", durable: "demo-worker", filterSubject: "demo.>" }]
})

const program = Effect.gen(function* () {
  yield* ensureTopology(topology)
  const done = yield* Deferred.make<void>()
  let handled = 0
  const handler = defineHandler({
    schema: Greeting,
    handle: () => Effect.sync(() => (++handled === count ? Deferred.unsafeDone(done, Effect.void) : undefined)),
    errors: {}
  })
  yield* runJetStreamConsumer(handler, { consumer: topology.consumers[0]!, retry: makeRetryPolicy(), concurrency: 32 })
  const started = Date.now()
  const messages = yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
    encodeMessage(Greeting, `demo.greeting`, { id: i, text: `hello ${i}` }, { msgId: `demo-${started}-${i}` })
  )
  const publisher = yield* Publisher
  yield* publisher.publishAll(messages, { maxInFlight: 256 })
  yield* Deferred.await(done)
  const seconds = (Date.now() - started) / 1000
  console.log(`published and processed ${count} messages in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} msg/s)`)
})

const main = async () => {
  const local = process.env["NATS_URL"] ? undefined : await LocalNatsProcess.start()
  const url = process.env["NATS_URL"] ?? local!.url
  console.log(local ? `started nats-server on ${url} (store ${local.storeDir})` : `using NATS_URL=${url}`)
  const layer = JetStreamPublisherLive.pipe(Layer.provideMerge(NatsConnectionLive(makeNatsConfig({ servers: [url], name: "demo" }))))
  try {
    await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.Warning)))
  } finally {
    await local?.stop()
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
