import { type KV, Kvm } from "@nats-io/kv"
import { isWrongLastSequence, kvWrites, type NatsClient } from "@conveyor/nats"
import { utf8Bytes } from "@conveyor/messaging"
import { Effect, Either, ParseResult, Schema } from "effect"
import { CorruptEntry, KvUnavailable, RevisionConflict } from "./errors.js"

export interface Versioned<A> {
  readonly value: A
  /** The KV revision the value was read at: the token for compare-and-set. */
  readonly revision: number
}

/**
 * A KV bucket of Schema-typed JSON values with compare-and-set. Every write either names the
 * revision it read (`update`) or requires the key to be absent (`create`), so two writers can
 * never silently overwrite each other: the loser gets RevisionConflict and must re-read.
 */
export interface JsonBucket<A> {
  readonly name: string
  readonly kv: KV
  readonly get: (key: string) => Effect.Effect<Versioned<A> | undefined, KvUnavailable | CorruptEntry>
  readonly create: (key: string, value: A) => Effect.Effect<number, KvUnavailable | RevisionConflict>
  readonly update: (key: string, value: A, revision: number) => Effect.Effect<number, KvUnavailable | RevisionConflict>
  /** Unconditional write, for values only one writer produces (e.g. a timer under its unique id). */
  readonly put: (key: string, value: A) => Effect.Effect<number, KvUnavailable>
  /** With `revision`, only if the key is still at it: a value written since stays. */
  readonly remove: (key: string, revision?: number) => Effect.Effect<void, KvUnavailable>
  /** Deletes the key only at `revision` (compare-and-set): a value written since fails it with RevisionConflict. */
  readonly removeAt: (key: string, revision: number) => Effect.Effect<void, KvUnavailable | RevisionConflict>
  /**
   * Read, decide, write with compare-and-set; on a lost race, read and decide again. `decide`
   * returns the value to store (or undefined to leave the key alone) and a result.
   */
  readonly modify: <B>(
    key: string,
    decide: (current: A | undefined) => { readonly next?: A | undefined; readonly result: B },
    options?: { readonly maxAttempts?: number }
  ) => Effect.Effect<B, KvUnavailable | CorruptEntry>
}

/**
 * `encode` for a bucket whose values are plain JSON data (the Schema's encoded form is the value
 * itself: no transformations) built by this process from values already decoded or validated:
 * written as they are, without the Schema walking and re-validating every field of every write
 * (a SKU's holds, a ledger entry, a timer entry). Reads still decode with the Schema.
 */
export const plainJson = (value: unknown): string => JSON.stringify(value)

const text = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * Reads with the bucket's `kv`; writes go through the connection's PubAck pipeline (`kvWrites`).
 * `encode` replaces the Schema's encoding of written values when the writer knows a cheaper way to
 * the same text (e.g. `instanceEncoder` for workflow instances); reads always decode with the Schema.
 */
export const makeJsonBucket = <A>(
  client: NatsClient, kv: KV, name: string, schema: Schema.Schema<A, any>, options: { readonly encode?: (value: A) => string } = {}
): JsonBucket<A> => {
  const codec = Schema.parseJson(schema)
  const encode = options.encode ?? Schema.encodeSync(codec)
  const decode = Schema.decodeUnknownEither(codec)
  const writes = kvWrites(client, name)
  const unavailable = (key: string) => (e: unknown) => new KvUnavailable({ bucket: name, key, reason: text(e) })
  const conflictOr = (key: string) => (e: unknown) => (isWrongLastSequence(e) ? new RevisionConflict({ bucket: name, key }) : unavailable(key)(e))
  const get = (key: string): Effect.Effect<Versioned<A> | undefined, KvUnavailable | CorruptEntry> =>
    Effect.tryPromise({ try: () => kv.get(key), catch: unavailable(key) }).pipe(
      Effect.flatMap((entry) => {
        // A deleted key reads as a DEL/PURGE marker; its revision still guards a later `update`,
        // but `create` also accepts a deleted key, so absent is the simpler answer.
        if (entry === null || entry.operation !== "PUT") return Effect.succeed(undefined)
        const decoded = decode(entry.string())
        return Either.isRight(decoded)
          ? Effect.succeed({ value: decoded.right, revision: entry.revision })
          : Effect.fail(new CorruptEntry({ bucket: name, key, reason: ParseResult.TreeFormatter.formatErrorSync(decoded.left) }))
      })
    )
  const update = (key: string, value: A, revision: number) =>
    Effect.suspend(() => writes.put(key, utf8Bytes(encode(value)), revision)).pipe(Effect.mapError(conflictOr(key)))
  // As `kv.create`: the key must be absent, and a deleted key (its marker is the last revision) counts as absent.
  const create = (key: string, value: A): Effect.Effect<number, KvUnavailable | RevisionConflict> =>
    Effect.suspend(() => writes.put(key, utf8Bytes(encode(value)), 0)).pipe(
      Effect.catchIf(isWrongLastSequence, () =>
        Effect.flatMap(Effect.tryPromise({ try: () => kv.get(key), catch: unavailable(key) }), (entry) =>
          entry !== null && entry.operation !== "PUT" ? update(key, value, entry.revision) : Effect.fail(new RevisionConflict({ bucket: name, key }))
        )
      ),
      Effect.mapError((e) => (e instanceof KvUnavailable || e instanceof RevisionConflict ? e : conflictOr(key)(e)))
    )
  const modify: JsonBucket<A>["modify"] = (key, decide, options) => {
    const maxAttempts = options?.maxAttempts ?? 50
    const loop = (attempt: number): Effect.Effect<any, KvUnavailable | CorruptEntry> =>
      Effect.flatMap(get(key), (current) => {
        const { next, result } = decide(current?.value)
        if (next === undefined) return Effect.succeed(result)
        const written = current === undefined ? create(key, next) : update(key, next, current.revision)
        return written.pipe(
          Effect.as(result),
          Effect.catchTag("RevisionConflict", (conflict) =>
            attempt >= maxAttempts
              ? Effect.fail(new KvUnavailable({ bucket: name, key, reason: `${conflict.message} (${attempt} times)` }))
              : loop(attempt + 1)
          )
        )
      })
    return loop(1)
  }
  return {
    name,
    kv,
    get,
    create,
    update,
    put: (key, value) => Effect.suspend(() => writes.put(key, utf8Bytes(encode(value)))).pipe(Effect.mapError(unavailable(key))),
    // At `revision` only: a lost race means the key was written again since (e.g. a timer re-armed), which stays.
    remove: (key, revision) =>
      writes.remove(key, revision).pipe(
        Effect.asVoid,
        Effect.catchIf(isWrongLastSequence, () => Effect.void),
        Effect.mapError(unavailable(key))
      ),
    removeAt: (key, revision) => writes.remove(key, revision).pipe(Effect.asVoid, Effect.mapError(conflictOr(key))),
    modify
  }
}

/** Opens an existing bucket (declare it in the topology; `ensureTopology` creates it). */
export const openJsonBucket = <A>(client: NatsClient, name: string, schema: Schema.Schema<A, any>, options: { readonly encode?: (value: A) => string } = {}) =>
  Effect.tryPromise({
    try: () => new Kvm(client.js).open(name),
    catch: (e) => new KvUnavailable({ bucket: name, key: "", reason: `cannot open bucket: ${text(e)}` })
  }).pipe(Effect.map((kv) => makeJsonBucket(client, kv, name, schema, options)))
