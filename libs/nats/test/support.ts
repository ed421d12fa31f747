// Test clients for this lib's tests and, as "@conveyor/nats/testing" (source condition only, never
// built), for the tests of libs that use it: libs/testing cannot hold them, since it would then
// depend on this lib whose tests depend on it (a cycle in the project graph).
import { defineHandler } from "@conveyor/messaging"
import { Duration, Effect, Exit, Layer, ManagedRuntime, Schema, Scope } from "effect"
import { perTestFile } from "@conveyor/testing/vitest"
import { makeNatsConfig, NatsConnection, NatsConnectionLive, type NatsClient } from "../src/index.js"

/** A scope-owned client for one test (`url` may list several servers, comma-separated); `close` drains it. */
export const openClient = async (url: string, name = "test") => {
  const runtime = ManagedRuntime.make(NatsConnectionLive(makeNatsConfig({ servers: url.split(","), name, connectTimeout: Duration.seconds(5), reconnectFor: Duration.seconds(30) })))
  const client: NatsClient = await runtime.runPromise(NatsConnection)
  return { client, runtime, close: () => runtime.dispose() }
}

export type TestClient = Awaited<ReturnType<typeof openClient>>
export type TestRuntime = TestClient["runtime"]

/**
 * One client per test file on the file's server: opened in `beforeAll`, drained in `afterAll`.
 * Hooks the file registers after this one run before the drain (vitest runs after-hooks as a stack).
 */
export const useTestClient = (server: { readonly url: string }): TestClient => {
  const get = perTestFile(() => openClient(server.url), (conn) => conn.close(), "useTestClient: the client is not open yet (read it inside a test or hook)")
  return {
    get client() { return get().client },
    get runtime() { return get().runtime },
    close: () => get().close()
  }
}

/** Runs a scoped effect and returns its value plus a closer for the scope. */
export const runScoped = async <A, E>(runtime: TestRuntime, effect: Effect.Effect<A, E, Scope.Scope | NatsConnection>) => {
  const scope = await Effect.runPromise(Scope.make())
  const value = await runtime.runPromise(Scope.extend(effect, scope))
  return { value, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}


export const layerOf = (client: NatsClient) => Layer.succeed(NatsConnection, client)

/** A message that says how its handler fails: `once` (retried, then acked) or `always` (dead-lettered). */
export const Work = Schema.Struct({ id: Schema.String, fail: Schema.optional(Schema.Literal("once", "always")) })
class Flaky extends Schema.TaggedError<Flaky>()("Flaky", {}) {}
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {}) {}

/** A handler of `Work` that produces each outcome on purpose, for tests that count outcomes. */
export const outcomeHandler = () => {
  const attempts = new Map<string, number>()
  return defineHandler({
    schema: Work,
    handle: (work): Effect.Effect<void, Flaky | Rejected> => {
      const n = (attempts.get(work.id) ?? 0) + 1
      attempts.set(work.id, n)
      if (work.fail === "always") return Effect.fail(new Rejected())
      return work.fail === "once" && n === 1 ? Effect.fail(new Flaky()) : Effect.void
    },
    errors: { Flaky: "retry", Rejected: "dead-letter" }
  })
}
