import type { Versioned } from "./json-bucket.js"

/** An instance as this process wrote it, and whether the outbox it holds was published (PubAcked) since. */
export interface RecentWrite<A> {
  readonly instance: Versioned<A>
  published: boolean
}

/**
 * The last value this process wrote per key, at most `capacity` keys (least recently written
 * dropped first). Only a hint: every write through it is still a compare-and-set at the cached
 * revision, so a stale entry costs one lost race and a re-read, never a lost update. A restart
 * starts empty, so an outbox not known to be published is published again.
 */
export const makeRecentWrites = <A>(capacity: number) => {
  const entries = new Map<string, RecentWrite<A>>()
  return {
    get: (key: string): RecentWrite<A> | undefined => entries.get(key),
    wrote: (key: string, instance: Versioned<A>): RecentWrite<A> => {
      const entry: RecentWrite<A> = { instance, published: false }
      if (capacity <= 0) return entry
      entries.delete(key)
      entries.set(key, entry)
      if (entries.size > capacity) entries.delete(entries.keys().next().value as string)
      return entry
    },
    drop: (key: string): void => void entries.delete(key)
  }
}
