import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type StreamConfig } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { millis, nanos } from "@nats-io/transport-node"
import {
  type BucketSpec,
  type ConsumerSpec,
  diffBucket,
  diffConsumer,
  diffStream,
  replaySubjectOf,
  type ResourceDiff,
  type StreamSpec,
  type Topology
} from "@conveyor/topology"
import { Effect } from "effect"
import { NatsConnection, type NatsClient } from "./connection.js"
import { errorText, ProvisioningFailed, TopologyDrift } from "./errors.js"
import { isStreamOrConsumerNotFound } from "./internal/jetstream-errors.js"

export const kvStreamName = (bucket: string): string => `KV_${bucket}`


const tryApi = <A>(kind: string, name: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new ProvisioningFailed({ kind, name, cause: errorText(e) }) })

/** Undefined when the resource does not exist. */
const lookup = <A>(kind: string, name: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => e }).pipe(
    Effect.map((a): A | undefined => a),
    Effect.catchAll((e) => (isStreamOrConsumerNotFound(e) ? Effect.succeed(undefined) : Effect.fail(new ProvisioningFailed({ kind, name, cause: errorText(e) }))))
  )

// ---- declared spec <-> server config -------------------------------------------------------

export const streamConfigOf = (s: StreamSpec): Partial<StreamConfig> & { name: string } => ({
  name: s.name,
  subjects: [...s.subjects],
  ...(s.description !== undefined ? { description: s.description } : {}),
  storage: s.storage === "file" ? StorageType.File : StorageType.Memory,
  retention: s.retention === "limits" ? RetentionPolicy.Limits : s.retention === "interest" ? RetentionPolicy.Interest : RetentionPolicy.Workqueue,
  num_replicas: s.replicas,
  max_age: nanos(s.maxAgeMs),
  max_bytes: s.maxBytes,
  max_msgs: s.maxMsgs,
  max_msg_size: s.maxMsgSize,
  duplicate_window: nanos(s.duplicateWindowMs),
  discard: s.discard === "old" ? DiscardPolicy.Old : DiscardPolicy.New
})

export const streamSpecOf = (c: StreamConfig): StreamSpec => ({
  name: c.name,
  subjects: c.subjects ?? [],
  ...(c.description ? { description: c.description } : {}),
  storage: c.storage === StorageType.Memory ? "memory" : "file",
  retention: c.retention,
  replicas: c.num_replicas,
  maxAgeMs: millis(c.max_age),
  maxBytes: c.max_bytes,
  maxMsgs: c.max_msgs,
  maxMsgSize: c.max_msg_size ?? -1,
  duplicateWindowMs: millis(c.duplicate_window ?? 0),
  discard: c.discard === DiscardPolicy.New ? "new" : "old"
})

export const consumerConfigOf = (c: ConsumerSpec): Partial<ConsumerConfig> => ({
  durable_name: c.durable,
  ...(c.description !== undefined ? { description: c.description } : {}),
  ...filterConfigOf(c),
  ack_policy: AckPolicy.Explicit,
  ack_wait: nanos(c.ackWaitMs),
  max_deliver: c.maxDeliver,
  max_ack_pending: c.maxAckPending,
  deliver_policy: c.deliverPolicy === "all" ? DeliverPolicy.All : DeliverPolicy.New
})

/** One subject is `filter_subject`, several (its filters plus its replay subject) `filter_subjects` (nats-server 2.10+). */
const filterConfigOf = (c: ConsumerSpec): Partial<ConsumerConfig> => {
  const subjects = [...(c.filterSubjects ?? []), ...(c.replaySubject === undefined ? [] : [c.replaySubject])]
  return subjects.length === 0 ? {} : subjects.length === 1 ? { filter_subject: subjects[0]! } : { filter_subjects: subjects }
}

/** The filters of a durable; its replay subject is the one named after its stream and durable. */
const filtersOf = (stream: string, durable: string, c: ConsumerConfig): { filterSubjects?: ReadonlyArray<string>; replaySubject?: string } => {
  const subjects = c.filter_subjects !== undefined && c.filter_subjects.length > 0 ? c.filter_subjects : c.filter_subject ? [c.filter_subject] : []
  const replay = subjects.find((f) => f === replaySubjectOf(stream, durable))
  const others = subjects.filter((f) => f !== replay)
  return {
    ...(others.length > 0 ? { filterSubjects: others } : {}),
    ...(replay !== undefined ? { replaySubject: replay } : {})
  }
}

export const consumerSpecOf = (stream: string, c: ConsumerConfig): ConsumerSpec => ({
  stream,
  durable: c.durable_name ?? c.name ?? "",
  ...(c.description ? { description: c.description } : {}),
  ...filtersOf(stream, c.durable_name ?? c.name ?? "", c),
  ackWaitMs: millis(c.ack_wait ?? 0),
  maxDeliver: c.max_deliver ?? -1,
  maxAckPending: c.max_ack_pending ?? -1,
  deliverPolicy: c.deliver_policy === DeliverPolicy.New ? "new" : "all"
})

export const bucketSpecOf = (name: string, c: StreamConfig): BucketSpec => ({
  name,
  ...(c.description ? { description: c.description } : {}),
  ttlMs: millis(c.max_age),
  history: c.max_msgs_per_subject,
  storage: c.storage === StorageType.Memory ? "memory" : "file",
  replicas: c.num_replicas,
  maxValueSize: c.max_msg_size ?? -1,
  maxBytes: c.max_bytes
})

const bucketStreamUpdate = (b: BucketSpec): Partial<StreamConfig> => ({
  ...(b.description !== undefined ? { description: b.description } : {}),
  max_age: nanos(b.ttlMs),
  max_msgs_per_subject: b.history,
  num_replicas: b.replicas,
  max_msg_size: b.maxValueSize,
  max_bytes: b.maxBytes
})

// ---- plan / ensure -------------------------------------------------------------------------

export interface TopologyReport {
  readonly diffs: ReadonlyArray<ResourceDiff>
}

/** Compares the declared topology with the server, changing nothing. */
export const planTopology = (client: NatsClient, topology: Topology): Effect.Effect<TopologyReport, ProvisioningFailed> =>
  Effect.gen(function* () {
    const diffs: Array<ResourceDiff> = []
    for (const s of topology.streams) {
      const info = yield* lookup("stream", s.name, () => client.jsm.streams.info(s.name))
      diffs.push(diffStream(s, info && streamSpecOf(info.config)))
    }
    for (const c of topology.consumers) {
      const info = yield* lookup("consumer", `${c.stream}/${c.durable}`, () => client.jsm.consumers.info(c.stream, c.durable))
      diffs.push(diffConsumer(c, info && consumerSpecOf(c.stream, info.config)))
    }
    for (const b of topology.buckets) {
      const info = yield* lookup("bucket", b.name, () => client.jsm.streams.info(kvStreamName(b.name)))
      diffs.push(diffBucket(b, info && bucketSpecOf(b.name, info.config)))
    }
    return { diffs }
  })

/**
 * Creates what is missing and updates what can be updated, in dependency order (streams before
 * their consumers). Fields the server cannot change in place are left alone and reported together
 * as TopologyDrift after everything else is applied. Running it twice changes nothing.
 */
export const ensureTopology = (topology: Topology): Effect.Effect<TopologyReport, ProvisioningFailed | TopologyDrift, NatsConnection> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const report = yield* planTopology(client, topology)
    const streams = new Map(topology.streams.map((s) => [s.name, s]))
    const consumers = new Map(topology.consumers.map((c) => [`${c.stream}/${c.durable}`, c]))
    const buckets = new Map(topology.buckets.map((b) => [b.name, b]))
    const kvm = new Kvm(client.js)
    // Streams first: consumers need them.
    const ordered = [...report.diffs].sort((a, b) => rank(a) - rank(b))
    for (const { plan } of ordered) {
      if (plan._tag === "InSync") continue
      if (plan.kind === "stream") {
        const spec = streams.get(plan.name)!
        yield* plan._tag === "Create"
          ? tryApi("stream", plan.name, () => client.jsm.streams.add(streamConfigOf(spec)))
          : tryApi("stream", plan.name, () => client.jsm.streams.update(spec.name, streamUpdateOf(spec)))
      } else if (plan.kind === "consumer") {
        const spec = consumers.get(plan.name)!
        yield* plan._tag === "Create"
          ? tryApi("consumer", plan.name, () => client.jsm.consumers.add(spec.stream, consumerConfigOf(spec)))
          : tryApi("consumer", plan.name, () => client.jsm.consumers.update(spec.stream, spec.durable, consumerUpdateOf(spec)))
      } else {
        const spec = buckets.get(plan.name)!
        yield* plan._tag === "Create"
          ? tryApi("bucket", plan.name, () =>
              kvm.create(spec.name, {
                history: spec.history,
                ttl: spec.ttlMs,
                storage: spec.storage === "file" ? StorageType.File : StorageType.Memory,
                replicas: spec.replicas,
                maxValueSize: spec.maxValueSize,
                max_bytes: spec.maxBytes,
                ...(spec.description !== undefined ? { description: spec.description } : {})
              })
            )
          : tryApi("bucket", plan.name, () => client.jsm.streams.update(kvStreamName(spec.name), bucketStreamUpdate(spec)))
      }
      yield* Effect.logInfo(`topology: ${plan._tag.toLowerCase()} ${plan.kind} ${plan.name}`)
    }
    const drifted = report.diffs.filter((d) => d.drift.length > 0)
    if (drifted.length > 0) {
      return yield* new TopologyDrift({ resources: drifted.map((d) => ({ kind: d.plan.kind, name: d.plan.name, fields: d.drift })) })
    }
    return report
  })

// An update carries only the fields the server can change in place (nats.js merges them into the
// current config): sending a drifted storage or filter would make the server refuse the whole update.
const streamUpdateOf = (s: StreamSpec): Partial<StreamConfig> => {
  const { storage: _storage, retention: _retention, ...mutable } = streamConfigOf(s)
  return mutable
}

// The filters change in place and the durable keeps its position. nats.js merges an update into
// the server's config, and the server refuses `filter_subject` and `filter_subjects` together: the
// field not declared is cleared (an undefined field is left out of the request).
const consumerUpdateOf = (c: ConsumerSpec): Partial<ConsumerConfig> => {
  const { deliver_policy: _deliver, ...mutable } = consumerConfigOf(c)
  return { filter_subject: undefined, filter_subjects: undefined, ...mutable } as unknown as Partial<ConsumerConfig>
}

const rank = (d: ResourceDiff) => (d.plan.kind === "stream" ? 0 : d.plan.kind === "bucket" ? 1 : 2)
