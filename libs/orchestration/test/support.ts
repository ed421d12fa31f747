import { makeNatsConfig, NatsConnection, NatsConnectionLive, type NatsClient } from "@conveyor/nats"
import { Kvm } from "@nats-io/kv"
import { Duration, ManagedRuntime } from "effect"

export const openClient = async (url: string, name = "test") => {
  const runtime = ManagedRuntime.make(NatsConnectionLive(makeNatsConfig({ servers: [url], name, connectTimeout: Duration.seconds(5), reconnectFor: Duration.seconds(30) })))
  const client: NatsClient = await runtime.runPromise(NatsConnection)
  return { client, runtime, close: () => runtime.dispose() }
}

export const createBucket = (client: NatsClient, name: string) => new Kvm(client.js).create(name, { history: 5 })

export const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = "condition") => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}
