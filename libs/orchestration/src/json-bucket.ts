import { type KV, Kvm } from "@nats-io/kv"
import { type NatsClient } from "@conveyor/nats"
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

const text = (e: unknown) => (e instanceof Error ? e.message : String(e))
const isConflict = (e: unknown) => /wrong last sequence|key exists|10071/i.test(text(e))

export const makeJsonBucket = <A>(kv: KV, name: string, schema: Schema.Schema<A, any>): JsonBucket<A> => {
  const codec = Schema.parseJson(schema)
  const encode = Schema.encodeSync(codec)
  const decode = Schema.decodeUnknownEither(codec)
  const unavailable = (key: string) => (e: unknown) => new KvUnavailable({ bucket: name, key, reason: text(e) })
  const write = (key: string, f: () => Promise<number>) =>
    Effect.tryPromise({ try: f, catch: (e) => e }).pipe(
      Effect.mapError((e) => (isConflict(e) ? new RevisionConflict({ bucket: name, key }) : unavailable(key)(e)))
    )
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
  const create = (key: string, value: A) => write(key, () => kv.create(key, encode(value)))
  const update = (key: string, value: A, revision: number) => write(key, () => kv.update(key, encode(value), revision))
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
    put: (key, value) => Effect.tryPromise({ try: () => kv.put(key, encode(value)), catch: unavailable(key) }),
    remove: (key, revision) =>
      write(key, () => kv.delete(key, revision === undefined ? undefined : { previousSeq: revision }).then(() => 0)).pipe(
        Effect.asVoid,
        Effect.catchTag("RevisionConflict", () => Effect.void)
      ),
    modify
  }
}

/** Opens an existing bucket (declare it in the topology; `ensureTopology` creates it). */
export const openJsonBucket = <A>(client: NatsClient, name: string, schema: Schema.Schema<A, any>) =>
  Effect.tryPromise({
    try: () => new Kvm(client.js).open(name),
    catch: (e) => new KvUnavailable({ bucket: name, key: "", reason: `cannot open bucket: ${text(e)}` })
  }).pipe(Effect.map((kv) => makeJsonBucket(kv, name, schema)))
