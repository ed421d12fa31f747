import { JetStreamApiError } from "@nats-io/jetstream"
import { type KV, Kvm } from "@nats-io/kv"
import { ClaimLost, type ClaimResult, type IdempotencyStoreShape, type OutgoingMessage, StoreUnavailable } from "@conveyor/messaging"
import { Effect } from "effect"
import type { NatsClient } from "./connection.js"
import { errorText } from "./errors.js"

/** One record per message id. `done` keeps the outputs so a redelivery can re-publish them. */
type Record =
  | { readonly s: "pending"; readonly until: number }
  | { readonly s: "done"; readonly out: ReadonlyArray<{ readonly subject: string; readonly payload: string; readonly msgId?: string; readonly headers?: { [k: string]: string } }> }

const utf8 = new TextEncoder()
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

// JetStream's "wrong last sequence": a compare-and-set lost (10071, 10164 on newer servers).
const isWrongSequence = (e: unknown) =>
  (e instanceof JetStreamApiError && (e.code === 10071 || e.code === 10164)) || /wrong last sequence|key exists/i.test(errorText(e))

/**
 * Idempotency on a JetStream KV bucket (the bucket's TTL is the record TTL). A claim is an atomic
 * create (a put expecting no previous revision), or a compare-and-set over an expired lease or a
 * released record; its revision is the fencing token, so a delivery whose lease was taken over
 * cannot mark the id done. Round trips: a fresh id costs one to claim and one to complete; a done
 * id costs two (the failed create, then the read that returns the outputs).
 */
export const makeKvIdempotencyStore = (kv: KV, ttlMs: number, now: () => number = Date.now): IdempotencyStoreShape => {
  const unavailable = (e: unknown) => new StoreUnavailable({ reason: errorText(e) })
  const write = (r: Record) => utf8.encode(JSON.stringify(r))
  const attempt = <A>(f: () => Promise<A>) => Effect.either(Effect.tryPromise({ try: f, catch: (e) => e }))
  const claim = (key: string, leaseMs: number): Effect.Effect<ClaimResult, StoreUnavailable> =>
    Effect.gen(function* () {
      const k = idempotencyKey(key)
      const pending = write({ s: "pending", until: now() + leaseMs })
      // Not kv.create: on a conflict it reads the key itself before failing, and we read it anyway.
      const created = yield* attempt(() => kv.put(k, pending, { previousSeq: 0 }))
      if (created._tag === "Right") return { _tag: "Claimed", claim: { key: k, token: created.right } } as const
      if (!isWrongSequence(created.left)) return yield* Effect.fail(unavailable(created.left))
      const entry = yield* Effect.tryPromise({ try: () => kv.get(k), catch: unavailable })
      // Gone between the two calls (expired by the TTL): the next delivery claims it afresh.
      if (entry === null) return { _tag: "HeldElsewhere", retryInMs: 50 } as const
      const current: Record | undefined = entry.operation === "PUT" ? (JSON.parse(fromUtf8.decode(entry.value)) as Record) : undefined
      if (current?.s === "done") return { _tag: "AlreadyDone", outputs: decodeOutputs(current.out) } as const
      if (current?.s === "pending" && current.until > now()) return { _tag: "HeldElsewhere", retryInMs: current.until - now() } as const
      // Lease expired, or the record was released (a delete marker): take it over with compare-and-set.
      const taken = yield* attempt(() => kv.update(k, pending, entry.revision))
      if (taken._tag === "Right") return { _tag: "Claimed", claim: { key: k, token: taken.right } } as const
      if (isWrongSequence(taken.left)) return { _tag: "HeldElsewhere", retryInMs: 50 } as const
      return yield* Effect.fail(unavailable(taken.left))
    })
  return {
    ttlMs,
    claim,
    complete: (c, outputs) =>
      Effect.tryPromise({ try: () => kv.update(c.key, write({ s: "done", out: encodeOutputs(outputs) }), c.token), catch: (e) => e }).pipe(
        Effect.asVoid,
        Effect.catchAll((e): Effect.Effect<void, ClaimLost | StoreUnavailable> =>
          isWrongSequence(e) ? Effect.fail(new ClaimLost({ key: c.key })) : Effect.fail(unavailable(e))
        )
      ),
    release: (c) =>
      Effect.tryPromise({ try: () => kv.delete(c.key, { previousSeq: c.token }), catch: (e) => e }).pipe(
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
      return makeKvIdempotencyStore(kv, status.ttl)
    },
    catch: (e) => new StoreUnavailable({ reason: `bucket '${bucket}': ${errorText(e)}` })
  })
