import { Duration, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { makeNatsConfig, NatsConnection, NatsConnectionLive, type NatsClient } from "../src/index.js"

/** A scope-owned client for one test; `close` drains it. */
export const openClient = async (url: string, name = "test") => {
  const runtime = ManagedRuntime.make(NatsConnectionLive(makeNatsConfig({ servers: [url], name, connectTimeout: Duration.seconds(5), reconnectFor: Duration.seconds(30) })))
  const client: NatsClient = await runtime.runPromise(NatsConnection)
  return { client, runtime, close: () => runtime.dispose() }
}

export type TestRuntime = Awaited<ReturnType<typeof openClient>>["runtime"]

/** Runs a scoped effect and returns its value plus a closer for the scope. */
export const runScoped = async <A, E>(runtime: TestRuntime, effect: Effect.Effect<A, E, Scope.Scope | NatsConnection>) => {
  const scope = await Effect.runPromise(Scope.make())
  const value = await runtime.runPromise(Scope.extend(effect, scope))
  return { value, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export { eventually } from "@conveyor/testing"

export const layerOf = (client: NatsClient) => Layer.succeed(NatsConnection, client)
