import type { Publisher } from "@conveyor/messaging"
import { JetStreamPublisherLive, makeNatsConfig, NatsConnection, NatsConnectionLive } from "@conveyor/nats"
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection as RawConnection } from "@nats-io/transport-node"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"

/** The servers of `url`: one, or a cluster's nodes comma-separated (as NATS_URL takes them). */
const serversOf = (url: string): Array<string> => url.split(",")

/** Conveyor's connection layer as an app builds it (its connection options included). */
export const conveyorLayer = (url: string, name = "bench") =>
  JetStreamPublisherLive.pipe(Layer.provideMerge(NatsConnectionLive(makeNatsConfig({ servers: serversOf(url), name }))), Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))

export type ConveyorRuntime = ManagedRuntime.ManagedRuntime<NatsConnection | Publisher, unknown>

export const conveyorRuntime = (url: string): ConveyorRuntime => ManagedRuntime.make(conveyorLayer(url))

/** A raw nats.js connection; `options` as a user would pass them to `connect`. */
export interface RawClient {
  readonly nc: RawConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
}

export const rawClient = async (url: string, options: { noAsyncTraces?: boolean } = {}): Promise<RawClient> => {
  const nc = await connect({ servers: serversOf(url), ...options })
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) }
}

/** Keeps `window` promises in flight until `count` have resolved; rejects on the first failure. */
export const windowed = (count: number, window: number, start: (i: number) => Promise<unknown>): Promise<void> =>
  new Promise((resolve, reject) => {
    if (count === 0) return resolve()
    let next = 0
    let done = 0
    let failed = false
    const pump = () => {
      while (!failed && next < count && next - done < window) {
        start(next++).then(
          () => {
            if (++done === count) resolve()
            else pump()
          },
          (e) => {
            failed = true
            reject(e)
          }
        )
      }
    }
    pump()
  })

/** Publishes `count` copies of `payload` with the raw client, `window` PubAcks outstanding. */
export const rawFill = (js: JetStreamClient, subject: (i: number) => string, payload: (i: number) => Uint8Array, count: number, window = 256) =>
  windowed(count, window, (i) => js.publish(subject(i), payload(i)))

export const elapsed = (startedAt: number): number => (performance.now() - startedAt) / 1000

export const runEffect = <A, E>(runtime: ConveyorRuntime, effect: Effect.Effect<A, E, any>): Promise<A> => runtime.runPromise(effect as Effect.Effect<A, E, never>)

/** Payload of `size` bytes that decodes as `{ id, pad }` (JSON). */
export const jsonPayload = (id: number, size: number): Uint8Array => {
  const head = JSON.stringify({ id, pad: "" })
  const pad = "x".repeat(Math.max(0, size - head.length))
  return new TextEncoder().encode(JSON.stringify({ id, pad }))
}
