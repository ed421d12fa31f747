import type { AppAccess } from "@conveyor/domain"
import type { Topology } from "@conveyor/topology"

/**
 * NATS publish/subscribe allow lists for one identity. Everything not listed is denied, so each
 * entry is a capability the app needs; the integration test in deploy/ confirms each list with the
 * work it allows and the denials it must produce.
 */
export interface Permissions {
  readonly publish: ReadonlyArray<string>
  readonly subscribe: ReadonlyArray<string>
}

const API = "$JS.API"
export const kvStream = (bucket: string): string => `KV_${bucket}`

/**
 * Replies (PubAcks, JetStream API answers, pulled messages, KV watch deliveries) arrive on the
 * client's inbox: `_INBOX.` unless the connection sets another prefix (`NATS_INBOX_PREFIX`).
 * With the shared default, any user allowed `_INBOX.>` could read every other app's pulled
 * messages, so each user gets its own prefix and may subscribe only below it.
 */
export const DEFAULT_INBOX_PREFIX = "_INBOX"
export const inboxGrant = (prefix: string): string => `${prefix}.>`

/**
 * `jetstreamManager()` asks for the account info when it is created (the adapter does so at
 * connect time to fail fast when JetStream is off). Read-only: usage numbers of the account.
 */
const accountInfo = `${API}.INFO`

/** Bind and pull one durable, and ack what it delivers (acks go to the delivery's reply subject). */
export const consumerGrants = (stream: string, durable: string): ReadonlyArray<string> => [
  `${API}.CONSUMER.INFO.${stream}.${durable}`,
  `${API}.CONSUMER.MSG.NEXT.${stream}.${durable}`,
  `$JS.ACK.${stream}.${durable}.>`
]

/**
 * Read a KV bucket: status (stream info) and get (message get, or direct get when the bucket
 * allows it; the last-by-subject form has the key in the subject).
 */
export const bucketReadGrants = (bucket: string): ReadonlyArray<string> => {
  const stream = kvStream(bucket)
  return [`${API}.STREAM.INFO.${stream}`, `${API}.STREAM.MSG.GET.${stream}`, `${API}.DIRECT.GET.${stream}`, `${API}.DIRECT.GET.${stream}.>`]
}

/**
 * Watch a bucket (also keys and history): an ephemeral ordered push consumer on the bucket's own
 * stream, and the answers to its flow control. The server does not check a push consumer's
 * deliver subject against its creator's rights (nats-server issue 8274): whoever may create one
 * can push messages into any inbox it knows. Only apps that watch get this; the pull loop refuses
 * deliveries from anything but its own durable.
 */
export const bucketWatchGrants = (bucket: string): ReadonlyArray<string> => {
  const stream = kvStream(bucket)
  return [`${API}.CONSUMER.CREATE.${stream}`, `${API}.CONSUMER.CREATE.${stream}.>`, `${API}.CONSUMER.INFO.${stream}.>`, `$JS.FC.${stream}.>`]
}

/** Put, create, update (compare-and-set) and delete are publishes to the key's subject. */
export const bucketWriteGrants = (bucket: string): ReadonlyArray<string> => [`$KV.${bucket}.>`]

/** Every stream the topology declares, KV buckets included. */
export const topologyStreams = (topology: Topology): ReadonlyArray<string> => [
  ...topology.streams.map((s) => s.name),
  ...topology.buckets.map((b) => kvStream(b.name))
]

/**
 * Create, update and inspect exactly the declared streams, consumers and buckets. No DELETE and
 * no PURGE: removing a resource stays a deliberate act with a server-admin identity.
 */
export const provisioningGrants = (topology: Topology): ReadonlyArray<string> => [
  accountInfo,
  // `topology apply` lists stream names to report streams nothing declares.
  `${API}.STREAM.NAMES`,
  ...topologyStreams(topology).flatMap((s) => [`${API}.STREAM.CREATE.${s}`, `${API}.STREAM.UPDATE.${s}`, `${API}.STREAM.INFO.${s}`]),
  ...topology.consumers.flatMap((c) => [
    // nats.js on 2.9+ creates and updates a durable on CONSUMER.CREATE.<stream>.<name>[.<filter>].
    `${API}.CONSUMER.CREATE.${c.stream}.${c.durable}`,
    `${API}.CONSUMER.CREATE.${c.stream}.${c.durable}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${c.stream}.${c.durable}`,
    `${API}.CONSUMER.INFO.${c.stream}.${c.durable}`
  ])
]

/**
 * The operator CLI: the topology plan (read-only), lists, lag of every durable, reading any
 * declared stream (dead letters above all) through messages or an ephemeral consumer, and
 * removing a replayed dead letter. No stream or consumer create, update, purge or delete: an
 * operator's credentials cannot shrink the dead-letter stream or reconfigure a durable.
 */
export const operatorGrants = (topology: Topology, deadLetterStream: string): ReadonlyArray<string> => [
  accountInfo,
  `${API}.STREAM.NAMES`,
  `${API}.STREAM.LIST`,
  ...topologyStreams(topology).flatMap((s) => [
    `${API}.STREAM.INFO.${s}`,
    `${API}.CONSUMER.NAMES.${s}`,
    `${API}.CONSUMER.LIST.${s}`,
    `${API}.CONSUMER.INFO.${s}.>`,
    `${API}.STREAM.MSG.GET.${s}`,
    `${API}.DIRECT.GET.${s}`,
    `${API}.DIRECT.GET.${s}.>`
  ]),
  `${API}.CONSUMER.CREATE.${deadLetterStream}`,
  `${API}.CONSUMER.CREATE.${deadLetterStream}.>`,
  `${API}.CONSUMER.MSG.NEXT.${deadLetterStream}.>`,
  `$JS.ACK.${deadLetterStream}.>`,
  `$JS.FC.${deadLetterStream}.>`,
  // The reading consumer is ephemeral and removed when the listing ends; no durable lives on
  // the dead-letter stream, so this deletes nothing else.
  `${API}.CONSUMER.DELETE.${deadLetterStream}.>`,
  `${API}.STREAM.MSG.DELETE.${deadLetterStream}`
]

const unique = (subjects: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(subjects)]

export interface PermissionContext {
  readonly topology: Topology
  /** The stream the operator reads and replays dead letters from. */
  readonly deadLetterStream: string
}

/** An app's permissions, from what it touches (`appAccess` in @conveyor/domain). */
export const appPermissions = (access: AppAccess, context: PermissionContext, inboxPrefix: string = DEFAULT_INBOX_PREFIX): Permissions => ({
  publish: unique([
    ...access.publish,
    accountInfo,
    ...access.consumes.flatMap((c) => consumerGrants(c.stream, c.durable)),
    // A consuming app dead-letters, and reports the dead-letter depth (per source durable) on /metrics.
    ...(access.consumes.length > 0 ? [`${API}.STREAM.INFO.${context.deadLetterStream}`] : []),
    ...access.buckets.flatMap((b) => [
      ...bucketReadGrants(b.bucket),
      ...(b.watch === true ? bucketWatchGrants(b.bucket) : []),
      ...(b.access === "write" ? bucketWriteGrants(b.bucket) : [])
    ]),
    ...(access.operator ? operatorGrants(context.topology, context.deadLetterStream) : [])
  ]),
  subscribe: [inboxGrant(inboxPrefix)]
})

/** The identity of the provisioning Job: topology changes only, no data. */
export const provisioningPermissions = (context: PermissionContext, inboxPrefix: string = DEFAULT_INBOX_PREFIX): Permissions => ({
  publish: unique(provisioningGrants(context.topology)),
  subscribe: [inboxGrant(inboxPrefix)]
})

/**
 * Grants no user may hold: the whole JetStream API (or all of JetStream) would let an app delete
 * or purge any stream (and, on old servers, other accounts' streams: GHSA-fhg8-qxh5-7q3w).
 */
export const forbiddenGrants: ReadonlyArray<string> = [">", "$JS.>", "$JS.API.>", "$JS.*.>", "$JS.API.*", "$JS.API.STREAM.>", "$JS.API.CONSUMER.>", "$KV.>"]
