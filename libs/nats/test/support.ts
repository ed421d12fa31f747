// Test clients for this lib's tests and, as "@conveyor/nats/testing" (source condition only, never
// built), for the tests of libs that use it: libs/testing cannot hold them, since it would then
// depend on this lib whose tests depend on it (a cycle in the project graph).
import { Duration, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
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
