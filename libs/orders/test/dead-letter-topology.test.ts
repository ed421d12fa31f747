import { orderTopology, StreamNames } from "@conveyor/domain"
import { deadLetterTopology, ensureTopology, makeNatsConfig, NatsConnection, NatsConnectionLive } from "@conveyor/nats"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Duration, Effect, ManagedRuntime } from "effect"
import { expect, it } from "@effect/vitest"

const server = useNatsServer()

// A service that follows the README ensures deadLetterTopology() beside the order apps: the stream
// is declared once, so neither ensure rewrites what the other set.
it("ensuring deadLetterTopology() after the order topology leaves the dead-letter stream as the order topology declared it", async () => {
  const runtime = ManagedRuntime.make(NatsConnectionLive(makeNatsConfig({ servers: [server.url], name: "test", connectTimeout: Duration.seconds(5) })))
  try {
    const declared = orderTopology.streams.find((s) => s.name === StreamNames.deadLetters)!
    await runtime.runPromise(ensureTopology(orderTopology))
    const report = await runtime.runPromise(ensureTopology(deadLetterTopology()))
    expect(report.diffs.map((d) => d.plan._tag)).toEqual(["InSync"])
    const info = await runtime.runPromise(Effect.flatMap(NatsConnection, (client) => Effect.promise(() => client.jsm.streams.info(StreamNames.deadLetters))))
    expect(info.config.max_age).toBe(declared.maxAgeMs * 1_000_000)
    expect(declared.maxAgeMs).toBe(30 * 24 * 3_600_000)
  } finally {
    await runtime.dispose()
  }
})
