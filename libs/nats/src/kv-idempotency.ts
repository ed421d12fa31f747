import { type KV, Kvm } from "@nats-io/kv"
import { ClaimLost, type ClaimResult, type IdempotencyStoreShape, type OutgoingMessage, StoreUnavailable, utf8Bytes } from "@conveyor/messaging"
import { Effect } from "effect"
import type { NatsClient } from "./connection.js"
import { errorText } from "./errors.js"
import { expectingLastRevision as expecting, isWrongLastSequence as isWrongSequence } from "./kv-writes.js"
import { pubAckPipelineOf } from "./internal/pub-ack-pipeline.js"

/** One record per message id. `done` keeps the outputs so a redelivery can re-publish them. */
type Record =
  | { readonly s: "pending"; readonly until: number }
  | { readonly s: "done"; readonly out: ReadonlyArray<{ readonly subject: string; readonly payload: string; readonly msgId?: string; readonly headers?: { [k: string]: string } }> }

const fromUtf8 = new TextDecoder()

// KV keys allow only [-/_=.a-zA-Z0-9]: message ids are base64url-encoded.
export const idempotencyKey = (key: string): string => Buffer.from(key).toString("base64url")

const encodeOutputs = (outputs: ReadonlyArray<OutgoingMessage>): Extract<Record, { s: "done" }>["out"] =>
  outputs.map((o) => ({
    subject: o.subject,
    payload: Buffer.from(o.payload).toString("base64"),
    ...(o.msgId !== undefined ? { msgId: o.msgId } : {}),
    ...(o.headers !== undefined ? { headers: { ...o.headers } } : {})
  }))

const decodeOutputs = (out: Extract<Record, { s: "done" }>["out"]): ReadonlyArray<OutgoingMessage> =>
  out.map((o) => ({
    subject: o.subject,
    payload: new Uint8Array(Buffer.from(o.payload, "base64")),
    ...(o.msgId !== undefined ? { msgId: o.msgId } : {}),
    ...(o.headers !== undefined ? { headers: o.headers } : {})
  }))

export interface KvIdempotencyStoreOptions {
  readonly client: NatsClient
  readonly kv: KV
  readonly bucket: string
  /** The bucket's TTL: how long a completed record is kept. */
  readonly ttlMs: number
  readonly now?: () => number
}

/**
 * Idempotency on a JetStream KV bucket (the bucket's TTL is the record TTL). A claim is an atomic
 * create (a put expecting no previous revision), or a compare-and-set over an expired lease or a
 * released record; its revision is the fencing token, so a delivery whose lease was taken over
 * cannot mark the id done. Round trips: a fresh id costs one to claim and one to complete; a done
 * id costs two (the failed create, then the read that returns the outputs). Writes go through a
 * PubAck pipeline (one reply subscription) rather than `kv.put`, whose request per write cost
 * most of the client's CPU per message.
 */
export const makeKvIdempotencyStore = (options: KvIdempotencyStoreOptions): IdempotencyStoreShape => {
  const { kv, ttlMs } = options
  const now = options.now ?? Date.now
  const writes = pubAckPipelineOf(options.client)
  const subjectOf = (key: string) => `$KV.${options.bucket}.${key}`
  const unavailable = (e: unknown) => new StoreUnavailable({ reason: errorText(e) })
  const write = (r: Record) => utf8Bytes(JSON.stringify(r))
  const put = (key: string, value: Uint8Array, previous: number) =>
    Effect.map(writes.publishEffect(subjectOf(key), value, expecting(previous)), (ack) => ack.seq)
  const claimed = (key: string, token: number): ClaimResult => ({ _tag: "Claimed", claim: { key, token } })
  /** The key exists: done (outputs), held by an unexpired lease, or free to take over. */
  const inspect = (k: string, pending: Uint8Array): Effect.Effect<ClaimResult, StoreUnavailable> =>
    Effect.flatMap(
      Effect.tryPromise({ try: () => kv.get(k), catch: unavailable }),
      (entry): Effect.Effect<ClaimResult, StoreUnavailable> => {
        // Gone between the two calls (expired by the TTL): the next delivery claims it afresh.
        if (entry === null) return Effect.succeed({ _tag: "HeldElsewhere", retryInMs: 50 })
        const current: Record | undefined = entry.operation === "PUT" ? (JSON.parse(fromUtf8.decode(entry.value)) as Record) : undefined
        if (current?.s === "done") return Effect.succeed({ _tag: "AlreadyDone", outputs: decodeOutputs(current.out) })
        if (current?.s === "pending" && current.until > now()) return Effect.succeed({ _tag: "HeldElsewhere", retryInMs: current.until - now() })
        // Lease expired, or the record was released (a delete marker): take it over with compare-and-set.
        return Effect.matchEffect(put(k, pending, entry.revision), {
          onSuccess: (token) => Effect.succeed(claimed(k, token)),
          onFailure: (e) => (isWrongSequence(e) ? Effect.succeed({ _tag: "HeldElsewhere", retryInMs: 50 } as const) : Effect.fail(unavailable(e)))
        })
      }
    )
  return {
    ttlMs,
    claim: (key, leaseMs) =>
      Effect.suspend(() => {
        const k = idempotencyKey(key)
        const pending = write({ s: "pending", until: now() + leaseMs })
        return Effect.matchEffect(put(k, pending, 0), {
          onSuccess: (token) => Effect.succeed(claimed(k, token)),
          onFailure: (e) => (isWrongSequence(e) ? inspect(k, pending) : Effect.fail(unavailable(e)))
        })
      }),
    complete: (c, outputs) =>
      Effect.suspend(() => put(c.key, write({ s: "done", out: encodeOutputs(outputs) }), c.token)).pipe(
        Effect.asVoid,
        Effect.mapError((e) => (isWrongSequence(e) ? new ClaimLost({ key: c.key }) : unavailable(e)))
      ),
    release: (c) =>
      writes.publishEffect(subjectOf(c.key), new Uint8Array(0), expecting(c.token, true)).pipe(
        Effect.asVoid,
        Effect.catchAll((e): Effect.Effect<void, StoreUnavailable> => (isWrongSequence(e) ? Effect.void : Effect.fail(unavailable(e))))
      )
  }
}

/** Opens the bucket (it must exist: declare it in the topology) and reads its TTL. */
export const openKvIdempotencyStore = (client: NatsClient, bucket: string) =>
  Effect.tryPromise({
    try: async () => {
      const kv = await new Kvm(client.js).open(bucket)
      const status = await kv.status()
      return makeKvIdempotencyStore({ client, kv, bucket, ttlMs: status.ttl })
    },
    catch: (e) => new StoreUnavailable({ reason: `bucket '${bucket}': ${errorText(e)}` })
  })
