import { NatsConnection, type NatsClient } from "@conveyor/nats/connection"
import type { ConsumerInfo, StreamInfo } from "@nats-io/jetstream"
import { Effect } from "effect"
import { type OperatorReadError, readFailed } from "./errors.js"

// One snapshot of streams and durables: what `conveyor status` prints and the console's overview shows.

export interface StreamRow {
  readonly stream: string
  readonly messages: number
  readonly bytes: number
  readonly firstSeq: number
  readonly lastSeq: number
  readonly consumers: number
}

export interface ConsumerRow {
  readonly stream: string
  readonly consumer: string
  /** Not yet delivered to anyone. */
  readonly pending: number
  /** Delivered, not yet acked. */
  readonly ackPending: number
  readonly redelivered: number
  /** Pull requests waiting at the server: idle workers. */
  readonly waiting: number
  /** Work not finished: pending + ack pending. What `--fail-on-lag` compares. */
  readonly lag: number
  /** ISO time of the last delivery or ack, when the server reports one. */
  readonly lastActive: string | null
}

export interface StatusReport {
  readonly at: string
  readonly streams: ReadonlyArray<StreamRow>
  readonly consumers: ReadonlyArray<ConsumerRow>
}

export interface StatusOptions {
  /** Only these streams; an unknown one fails. Empty: every stream. */
  readonly streams: ReadonlyArray<string>
  /** Include the `KV_*` streams behind KV buckets. */
  readonly includeKv: boolean
}

/** nats.js types `last_active` as nanos; 2.9+ servers send an ISO time. Accept both, or nothing. */
const activeAt = (value: unknown): number | undefined => {
  if (typeof value === "string") {
    const t = Date.parse(value)
    return Number.isNaN(t) || t <= 0 ? undefined : t
  }
  if (typeof value === "number" && value > 0) return Math.floor(value / 1_000_000)
  return undefined
}

export const consumerRow = (c: ConsumerInfo): ConsumerRow => {
  const times = [activeAt(c.delivered?.last_active), activeAt(c.ack_floor?.last_active)].filter((t): t is number => t !== undefined)
  return {
    stream: c.stream_name,
    consumer: c.name,
    pending: c.num_pending,
    ackPending: c.num_ack_pending,
    redelivered: c.num_redelivered,
    waiting: c.num_waiting,
    lag: c.num_pending + c.num_ack_pending,
    lastActive: times.length === 0 ? null : new Date(Math.max(...times)).toISOString()
  }
}

export const streamRow = (s: StreamInfo): StreamRow => ({
  stream: s.config.name,
  messages: s.state.messages,
  bytes: s.state.bytes,
  firstSeq: s.state.first_seq,
  lastSeq: s.state.last_seq,
  consumers: s.state.consumer_count
})

const collect = <A>(what: string, f: () => AsyncIterable<A> | Promise<AsyncIterable<A>>) =>
  Effect.tryPromise({
    try: async () => {
      const out: Array<A> = []
      for await (const a of await f()) out.push(a)
      return out
    },
    catch: readFailed(what)
  })

const streamInfos = (client: NatsClient, options: StatusOptions): Effect.Effect<ReadonlyArray<StreamInfo>, OperatorReadError> =>
  options.streams.length > 0
    ? Effect.forEach(options.streams, (name) => Effect.tryPromise({ try: () => client.jsm.streams.info(name), catch: readFailed(`stream ${name}`) }))
    : collect("streams", () => client.jsm.streams.list()).pipe(
        Effect.map((all) => all.filter((s) => options.includeKv || !s.config.name.startsWith("KV_")))
      )

/** One snapshot of every stream and its consumers, sorted by name. */
export const collectStatus = (options: StatusOptions): Effect.Effect<StatusReport, OperatorReadError, NatsConnection> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const streams = [...(yield* streamInfos(client, options))].sort((a, b) => a.config.name.localeCompare(b.config.name))
    const consumers = yield* Effect.forEach(streams, (s) =>
      collect(`consumers of stream ${s.config.name}`, () => client.jsm.consumers.list(s.config.name))
    )
    return {
      at: new Date().toISOString(),
      streams: streams.map(streamRow),
      consumers: consumers.flat().map(consumerRow).sort((a, b) => `${a.stream}/${a.consumer}`.localeCompare(`${b.stream}/${b.consumer}`))
    }
  })
