import { makeNatsConfig, NatsConnection, NatsConnectionLive, type NatsClient } from "@conveyor/nats"
import { Kvm } from "@nats-io/kv"
import { Duration, ManagedRuntime } from "effect"

export const openClient = async (url: string, name = "test") => {
  const runtime = ManagedRuntime.make(NatsConnectionLive(makeNatsConfig({ servers: [url], name, connectTimeout: Duration.seconds(5), reconnectFor: Duration.seconds(30) })))
  const client: NatsClient = await runtime.runPromise(NatsConnection)
  return { client, runtime, close: () => runtime.dispose() }
}

export const createBucket = (client: NatsClient, name: string) => new Kvm(client.js).create(name, { history: 5 })

export { eventually } from "@conveyor/testing"
