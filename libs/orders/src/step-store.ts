import { type JsonBucket, KvUnavailable, type CorruptEntry, type Versioned } from "@conveyor/orchestration"
import { Effect } from "effect"

/*
 * The workers' stores are their idempotency records. Each step's effect is one compare-and-set
 * write keyed by the order (a SKU's holds, an order's ledger entry or shipment) whose decision is
 * idempotent per order, and its answer is a function of what the write left: a redelivery, a
 * duplicate or two deliveries racing re-read the value and answer the same event under the same
 * derived message id. So the workers need no claim and completion record of their own (two KV
 * writes per message less); see the README's "Effectively once in the workers".
 */

type Decide<A, B> = (current: A | undefined) => { readonly next?: A | undefined; readonly result: B }

/**
 * `bucket.modify` for a key that is usually new (an order's first capture or booking): writes
 * `decide(undefined)` as a create without reading first, and only when the key exists reads it
 * and decides again. One round trip instead of two on the usual path.
 */
export const modifyExpectingNew = <A, B>(bucket: JsonBucket<A>, key: string, decide: Decide<A, B>): Effect.Effect<B, KvUnavailable | CorruptEntry> => {
  const first = decide(undefined)
  if (first.next === undefined) return bucket.modify(key, decide)
  return bucket.create(key, first.next).pipe(
    Effect.as(first.result),
    Effect.catchTag("RevisionConflict", () => bucket.modify(key, decide))
  )
}

export interface CachedValues<A> {
  /** As `bucket.modify`, starting from the value this process last read or wrote for the key. */
  readonly modify: <B>(key: string, decide: Decide<A, B>) => Effect.Effect<B, KvUnavailable | CorruptEntry>
}

/**
 * `modify` over keys many orders write (a SKU's stock), starting from the value this process last
 * read or wrote instead of reading it back first. The cache is only a guess: a write from it is
 * still a compare-and-set at the cached revision, so a stale entry costs a lost race and a re-read;
 * and a decision to write nothing is never taken on a cached value (nothing would check it), the
 * key is read first. At most `capacity` keys, least recently used dropped first.
 */
export const cachedValues = <A>(bucket: JsonBucket<A>, options: { readonly capacity: number; readonly maxAttempts?: number }): CachedValues<A> => {
  const entries = new Map<string, Versioned<A>>()
  const maxAttempts = options.maxAttempts ?? 50
  const remember = (key: string, value: Versioned<A> | undefined) => {
    entries.delete(key)
    if (value === undefined || options.capacity <= 0) return
    entries.set(key, value)
    if (entries.size > options.capacity) entries.delete(entries.keys().next().value as string)
  }
  const read = (key: string) => Effect.tap(bucket.get(key), (fresh) => remember(key, fresh))
  const modify = <B>(key: string, decide: Decide<A, B>): Effect.Effect<B, KvUnavailable | CorruptEntry> => {
    const attempt = (n: number, current: Versioned<A> | undefined, cached: boolean): Effect.Effect<B, KvUnavailable | CorruptEntry> => {
      const { next, result } = decide(current?.value)
      if (next === undefined) return cached ? Effect.flatMap(read(key), (fresh) => attempt(n, fresh, false)) : Effect.succeed(result)
      const written = current === undefined ? bucket.create(key, next) : bucket.update(key, next, current.revision)
      return written.pipe(
        Effect.map((revision) => {
          remember(key, { value: next, revision })
          return result
        }),
        Effect.catchTag("RevisionConflict", (conflict) => {
          entries.delete(key)
          return n >= maxAttempts
            ? Effect.fail(new KvUnavailable({ bucket: bucket.name, key, reason: `${conflict.message} (${n} times)` }))
            : Effect.flatMap(read(key), (fresh) => attempt(n + 1, fresh, false))
        }),
        // A write that failed otherwise may or may not have landed: the cache cannot tell.
        Effect.tapError(() => Effect.sync(() => entries.delete(key)))
      )
    }
    const hit = entries.get(key)
    return hit !== undefined ? attempt(1, hit, true) : Effect.flatMap(read(key), (fresh) => attempt(1, fresh, false))
  }
  return { modify }
}
