import { type JsonBucket, KvUnavailable, type CorruptEntry, type Versioned } from "@conveyor/orchestration"
import { Deferred, Effect, Exit, FiberId } from "effect"

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

/** A decision waiting for its key's next write, and where its result goes. */
interface Waiting<A> {
  readonly decide: Decide<A, unknown>
  readonly done: Deferred.Deferred<unknown, KvUnavailable | CorruptEntry>
}

/**
 * `modify` over keys many orders write (a SKU's stock), starting from the value this process last
 * read or wrote instead of reading it back first. The cache is only a guess: a write from it is
 * still a compare-and-set at the cached revision, so a stale entry costs a lost race and a re-read;
 * and a decision to write nothing is never taken on a cached value (nothing would check it), the
 * key is read first. At most `capacity` keys, least recently used dropped first.
 *
 * One write per key at a time in this process (group commit): decisions that come while a key is
 * being written wait, then are taken one after the other on the value that write left and stored
 * by one compare-and-set, their results given only once it succeeded. Without this, n handlers
 * writing one hot key at once each lost the race to the others, re-read and tried again: n(n+1)/2
 * writes for n decisions, and past `maxAttempts` lost races a handler failed and was retried.
 * Decisions must be pure (they may be taken again on a fresh value after a lost race).
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

  /** Takes the batch's decisions in order on one value and stores the last one written (if any) once. */
  const commit = (key: string, batch: ReadonlyArray<Waiting<A>>): Effect.Effect<ReadonlyArray<unknown>, KvUnavailable | CorruptEntry> => {
    const attempt = (n: number, current: Versioned<A> | undefined, cached: boolean): Effect.Effect<ReadonlyArray<unknown>, KvUnavailable | CorruptEntry> => {
      let value = current?.value
      let changed = false
      const results = batch.map((w) => {
        const { next, result } = w.decide(value)
        if (next !== undefined) {
          value = next
          changed = true
        }
        return result
      })
      if (!changed || value === undefined) return cached ? Effect.flatMap(read(key), (fresh) => attempt(n, fresh, false)) : Effect.succeed(results)
      const next = value
      const written = current === undefined ? bucket.create(key, next) : bucket.update(key, next, current.revision)
      return written.pipe(
        Effect.map((revision) => {
          remember(key, { value: next, revision })
          return results
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

  /** Keys being written, with the decisions that came meanwhile (the next batch). */
  const waiting = new Map<string, Array<Waiting<A>>>()
  /** Writes the key's waiting batch and gives each decision its result. */
  const writeBatch = (key: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const batch = waiting.get(key) ?? []
      waiting.set(key, [])
      return Effect.flatMap(Effect.exit(commit(key, batch)), (exit) =>
        Effect.sync(() => batch.forEach((w, i) => Deferred.unsafeDone(w.done, Exit.map(exit, (results) => results[i]))))
      )
    })
  /** Whether decisions came while the key was written; if not, the next one writes by itself. */
  const more = (key: string): boolean => {
    if (waiting.get(key)?.length !== 0) return true
    waiting.delete(key)
    return false
  }
  const drain = (key: string): Effect.Effect<void> => Effect.flatMap(writeBatch(key), () => (more(key) ? drain(key) : Effect.void))

  // Uninterruptible but for the wait: a writer stopped half-way would leave its key's waiters waiting forever.
  const modify = <B>(key: string, decide: Decide<A, B>): Effect.Effect<B, KvUnavailable | CorruptEntry> =>
    Effect.uninterruptibleMask((restore) => {
      const done = Deferred.unsafeMake<unknown, KvUnavailable | CorruptEntry>(FiberId.none)
      const result = restore(Deferred.await(done)) as Effect.Effect<B, KvUnavailable | CorruptEntry>
      const queue = waiting.get(key)
      if (queue !== undefined) {
        queue.push({ decide, done })
        return result
      }
      // No write of this key under way: this decision is written now, in this fiber; what comes
      // meanwhile is written after it by a fiber of its own, so this handler does not wait for it.
      waiting.set(key, [{ decide, done }])
      return writeBatch(key).pipe(
        Effect.zipRight(Effect.suspend(() => (more(key) ? Effect.asVoid(Effect.forkDaemon(drain(key))) : Effect.void))),
        Effect.zipRight(result)
      )
    })
  return { modify }
}

/**
 * Changes that may go with a key's next write but are not worth a write of their own: tidying
 * a value (a SKU's entries for orders whose records are final). Forgetting one leaves a larger
 * value, never a wrong one; so at most `capacity` keys keep theirs, the oldest forgotten first.
 */
const NONE_DUE: ReadonlyArray<never> = []

export class Drops<A> {
  private readonly byKey = new Map<string, Array<(value: A) => A>>()
  constructor(private readonly capacity = 10_000) {}
  add(key: string, change: (value: A) => A): void {
    const list = this.byKey.get(key)
    if (list !== undefined) list.push(change)
    else {
      this.byKey.set(key, [change])
      if (this.byKey.size > this.capacity) this.byKey.delete(this.byKey.keys().next().value as string)
    }
  }
  /** The key's changes now (a snapshot: those added meanwhile wait for a later write). */
  due(key: string): ReadonlyArray<(value: A) => A> {
    return this.byKey.get(key)?.slice() ?? NONE_DUE
  }
  /** `written` went with a write of the key. */
  done(key: string, written: ReadonlyArray<(value: A) => A>): void {
    if (written.length === 0) return
    const list = this.byKey.get(key)
    if (list === undefined) return
    // Usually the snapshot is still the list's head; else another write took some of it already.
    const left = list[0] === written[0] && list[written.length - 1] === written[written.length - 1]
      ? list.slice(written.length)
      : list.filter((c) => !written.includes(c))
    if (left.length === 0) this.byKey.delete(key)
    else this.byKey.set(key, left)
  }
}
