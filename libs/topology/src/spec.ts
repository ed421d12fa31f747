import { Schema } from "effect"

/**
 * Topology as data: what streams, durable consumers and KV buckets a system needs. Durations are
 * milliseconds so specs stay plain JSON (the CLI prints and diffs them). Defaults are chosen for a
 * single nats-server; production overlays raise `replicas`.
 */
const Millis = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Count = Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(-1))
const Name = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]+$/, { message: () => "names may hold only letters, digits, '_' and '-'" }))

export const StreamSpec = Schema.Struct({
  name: Name,
  subjects: Schema.Array(Schema.String).pipe(Schema.minItems(1)),
  description: Schema.optional(Schema.String),
  storage: Schema.optionalWith(Schema.Literal("file", "memory"), { default: () => "file" as const }),
  retention: Schema.optionalWith(Schema.Literal("limits", "interest", "workqueue"), { default: () => "limits" as const }),
  replicas: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 5)), { default: () => 1 }),
  /** 0 = unlimited. */
  maxAgeMs: Schema.optionalWith(Millis, { default: () => 0 }),
  /** -1 = unlimited. */
  maxBytes: Schema.optionalWith(Count, { default: () => -1 }),
  maxMsgs: Schema.optionalWith(Count, { default: () => -1 }),
  maxMsgSize: Schema.optionalWith(Count, { default: () => -1 }),
  duplicateWindowMs: Schema.optionalWith(Millis, { default: () => 120_000 }),
  discard: Schema.optionalWith(Schema.Literal("old", "new"), { default: () => "old" as const })
})
export type StreamSpec = typeof StreamSpec.Type
export type StreamSpecInput = typeof StreamSpec.Encoded

export const ConsumerSpec = Schema.Struct({
  stream: Name,
  durable: Name,
  description: Schema.optional(Schema.String),
  /**
   * The subjects of the stream this durable takes (wildcards allowed; several are JetStream's
   * `filter_subjects`, nats-server 2.10+); absent, it takes every subject of the stream.
   */
  filterSubjects: Schema.optional(Schema.Array(Schema.String).pipe(Schema.minItems(1))),
  /**
   * A subject of the stream that only this durable takes besides `filterSubjects` (one more filter
   * subject): dead-letter replay sends this durable's letters there, so no other durable on the
   * stream processes them again. `withReplaySubjects` fills it.
   */
  replaySubject: Schema.optional(Schema.String),
  ackWaitMs: Schema.optionalWith(Millis.pipe(Schema.greaterThanOrEqualTo(1_000)), { default: () => 30_000 }),
  /** Deliveries the server attempts; the runtime's retry policy dead-letters before this. -1 = unlimited. */
  maxDeliver: Schema.optionalWith(Count, { default: () => -1 }),
  maxAckPending: Schema.optionalWith(Count, { default: () => 1_000 }),
  deliverPolicy: Schema.optionalWith(Schema.Literal("all", "new"), { default: () => "all" as const })
})
export type ConsumerSpec = typeof ConsumerSpec.Type
export type ConsumerSpecInput = typeof ConsumerSpec.Encoded

export const BucketSpec = Schema.Struct({
  name: Name,
  description: Schema.optional(Schema.String),
  /** Entries older than this are removed. 0 = keep forever. */
  ttlMs: Schema.optionalWith(Millis, { default: () => 0 }),
  history: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 64)), { default: () => 1 }),
  storage: Schema.optionalWith(Schema.Literal("file", "memory"), { default: () => "file" as const }),
  replicas: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 5)), { default: () => 1 }),
  maxValueSize: Schema.optionalWith(Count, { default: () => -1 }),
  maxBytes: Schema.optionalWith(Count, { default: () => -1 })
})
export type BucketSpec = typeof BucketSpec.Type
export type BucketSpecInput = typeof BucketSpec.Encoded

export const Topology = Schema.Struct({
  streams: Schema.Array(StreamSpec),
  consumers: Schema.Array(ConsumerSpec),
  buckets: Schema.Array(BucketSpec)
})
export type Topology = typeof Topology.Type
export type TopologyInput = typeof Topology.Encoded

/** Builds a validated topology from plain declarations, filling defaults; throws on a bad declaration. */
export const defineTopology = (input: {
  readonly streams?: ReadonlyArray<StreamSpecInput>
  readonly consumers?: ReadonlyArray<ConsumerSpecInput>
  readonly buckets?: ReadonlyArray<BucketSpecInput>
}): Topology => {
  const decoded = Schema.decodeUnknownSync(Topology)({
    streams: input.streams ?? [],
    consumers: input.consumers ?? [],
    buckets: input.buckets ?? []
  })
  // The server refuses a duplicate window longer than max age (and defaults it to the shorter of
  // the two): clamp, so a short-lived stream needs no extra setting.
  return {
    ...decoded,
    streams: decoded.streams.map((s) => (s.maxAgeMs > 0 && s.duplicateWindowMs > s.maxAgeMs ? { ...s, duplicateWindowMs: s.maxAgeMs } : s))
  }
}

/**
 * One consumer declared inline, in the plain form (`ackWaitMs` and the rest optional), checked and
 * with its defaults filled: what `runJetStreamConsumer({ consumer })` takes. Throws on a bad declaration.
 */
export const consumer = (input: ConsumerSpecInput): ConsumerSpec => Schema.decodeUnknownSync(ConsumerSpec)(input)

/** Merges topologies declared by separate modules (domain, dead letters, idempotency). */
export const mergeTopologies = (...parts: ReadonlyArray<Topology>): Topology => ({
  streams: parts.flatMap((p) => p.streams),
  consumers: parts.flatMap((p) => p.consumers),
  buckets: parts.flatMap((p) => p.buckets)
})

/**
 * The same topology with every stream and bucket kept on `replicas` nodes (consumers follow their
 * stream): a cluster's copy of a topology declared for one node.
 */
export const replicatedTopology = (topology: Topology, replicas: number): Topology => ({
  streams: topology.streams.map((s) => ({ ...s, replicas })),
  consumers: topology.consumers,
  buckets: topology.buckets.map((b) => ({ ...b, replicas }))
})

export const REPLAY_SUBJECT_PREFIX = "replay."

/** Where replays of `durable`'s dead letters go: a subject of its stream no other durable takes. */
export const replaySubjectOf = (stream: string, durable: string): string => `${REPLAY_SUBJECT_PREFIX}${stream}.${durable}`

/** Every replay subject of a stream (its durables' replay subjects are below it). */
export const replaySubjectsOf = (stream: string): string => `${REPLAY_SUBJECT_PREFIX}${stream}.*`

/**
 * Gives every durable with a filter subject on one of the topology's streams a replay subject of its own and each of those streams
 * the subjects those live under. A durable without a filter takes every subject of its stream,
 * other durables' replays included: it gets none, and its stream's replays reach it too.
 */
export const withReplaySubjects = (topology: Topology): Topology => {
  // Only on the topology's own streams: a bucket's stream keeps its subjects.
  const streams = new Set(topology.streams.map((s) => s.name))
  const consumers = topology.consumers.map((c) =>
    c.filterSubjects === undefined || c.replaySubject !== undefined || !streams.has(c.stream) ? c : { ...c, replaySubject: replaySubjectOf(c.stream, c.durable) })
  const replayed = new Set(consumers.filter((c) => c.replaySubject !== undefined).map((c) => c.stream))
  return {
    streams: topology.streams.map((s) =>
      replayed.has(s.name) && !s.subjects.includes(replaySubjectsOf(s.name)) ? { ...s, subjects: [...s.subjects, replaySubjectsOf(s.name)] } : s),
    consumers,
    buckets: topology.buckets
  }
}
