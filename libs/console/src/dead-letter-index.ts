import { type DeadLetter, type DeadLetterFilter, defaultDeadLetters, listDeadLetters, matchesFilter, type NatsClient } from "@conveyor/nats"
import { Effect } from "effect"

/**
 * The dead-letter stream held in memory, so a page over 10,000 letters filters and slices an array
 * instead of reading the stream. Each refresh asks for the stream's state and reads only the
 * letters stored since the last one (`listDeadLetters` from the next sequence); letters that left
 * the stream (replayed, purged, aged out) are dropped when the counts disagree, by one full re-read.
 */
export interface LetterQuery {
  /** Original subject, NATS wildcards allowed. */
  readonly subject?: string
  readonly since?: Date
  readonly until?: Date
  /** Case-insensitive, in the error tag or message. */
  readonly errorText?: string
  /** One group's key (`groupKey`). */
  readonly group?: string
  /** One source durable, `<stream>/<durable>`. */
  readonly source?: string
}

export interface LetterGroup {
  readonly key: string
  readonly source: string
  readonly errorTag: string
  readonly count: number
  readonly firstSeen: Date
  readonly lastSeen: Date
  /** The newest letter of the group. */
  readonly sample: DeadLetter
}

/** Dead letters group by the durable that failed them and the error's tag. */
export const sourceOf = (l: DeadLetter) => `${l.originalStream}/${l.consumer}`
export const groupKey = (l: DeadLetter) => `${sourceOf(l)} ${l.errorTag}`

export const queryFilter = (q: LetterQuery): DeadLetterFilter => ({
  ...(q.subject !== undefined ? { originalSubject: q.subject } : {}),
  ...(q.since !== undefined ? { since: q.since } : {}),
  ...(q.until !== undefined ? { until: q.until } : {})
})

export const matchesQuery = (l: DeadLetter, q: LetterQuery, filter = queryFilter(q)): boolean =>
  matchesFilter(l, filter) &&
  (q.group === undefined || groupKey(l) === q.group) &&
  (q.source === undefined || sourceOf(l) === q.source) &&
  (q.errorText === undefined || `${l.errorTag} ${l.errorMessage}`.toLowerCase().includes(q.errorText.toLowerCase()))

/** Groups of the matching letters, largest first. */
export const groupLetters = (letters: Iterable<DeadLetter>): ReadonlyArray<LetterGroup> => {
  const groups = new Map<string, { key: string; source: string; errorTag: string; count: number; firstSeen: Date; lastSeen: Date; sample: DeadLetter }>()
  for (const l of letters) {
    const key = groupKey(l)
    const g = groups.get(key)
    if (g === undefined) {
      groups.set(key, { key, source: sourceOf(l), errorTag: l.errorTag, count: 1, firstSeen: l.deadLetteredAt, lastSeen: l.deadLetteredAt, sample: l })
      continue
    }
    g.count++
    if (l.deadLetteredAt < g.firstSeen) g.firstSeen = l.deadLetteredAt
    if (l.deadLetteredAt >= g.lastSeen) {
      g.lastSeen = l.deadLetteredAt
      g.sample = l
    }
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
}

export class DeadLetterIndex {
  /** By sequence, ascending (insertion order: letters are read in stream order). */
  private letters = new Map<number, DeadLetter>()
  private lastRead = 0
  private refreshing: Promise<void> | undefined
  private refreshedAt = 0
  /** The stream did not exist at the last refresh. */
  missing = false

  // A page shows every letter stored before it was asked for: by default each request checks the
  // stream's state (one small API call; nothing is read when nothing is new).
  constructor(private readonly client: NatsClient, readonly stream: string, private readonly maxAgeMs = 0) {}

  /** Brings the index up to the stream (at most once per `maxAgeMs`; concurrent callers share one read). */
  refresh(force = false): Effect.Effect<void, Error> {
    return Effect.tryPromise({
      try: () => {
        if (!force && this.maxAgeMs > 0 && Date.now() - this.refreshedAt < this.maxAgeMs) return Promise.resolve()
        const running = this.refreshing ?? this.read().finally(() => {
          this.refreshing = undefined
        })
        this.refreshing = running
        return running
      },
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    })
  }

  private async read(): Promise<void> {
    const info = await this.client.jsm.streams.info(this.stream).catch((e: unknown) => {
      if (/stream not found/i.test(e instanceof Error ? e.message : String(e))) return undefined
      throw e
    })
    // No dead-letter stream yet (nothing provisioned it): no letters.
    this.missing = info === undefined
    if (info === undefined) {
      this.reset()
      this.refreshedAt = Date.now()
      return
    }
    const { first_seq: first, last_seq: last, messages } = info.state
    for (const seq of this.letters.keys()) if (seq < first) this.letters.delete(seq)
    if (last < this.lastRead) this.reset() // the stream was purged and restarted below us
    if (last > this.lastRead && messages > 0) {
      const fresh = await Effect.runPromise(
        listDeadLetters(this.client, { fromSequence: this.lastRead + 1 }, { deadLetters: { ...defaultDeadLetters, stream: this.stream } })
      )
      for (const l of fresh) this.letters.set(l.sequence, l)
      this.lastRead = Math.max(last, ...fresh.map((l) => l.sequence))
    }
    // More held than stored: some left the stream since (another operator, the CLI); read it all again.
    if (this.letters.size > messages) {
      this.reset()
      return this.read()
    }
    this.refreshedAt = Date.now()
  }

  private reset() {
    this.letters = new Map()
    this.lastRead = 0
  }

  /** Letters that left the stream through this process (replayed, purged): dropped at once. */
  forget(sequences: Iterable<number>) {
    for (const s of sequences) this.letters.delete(s)
  }

  get size() {
    return this.letters.size
  }

  get(sequence: number): DeadLetter | undefined {
    return this.letters.get(sequence)
  }

  /** The matching letters, newest first. */
  query(q: LetterQuery): ReadonlyArray<DeadLetter> {
    const filter = queryFilter(q)
    const out: Array<DeadLetter> = []
    for (const l of this.letters.values()) if (matchesQuery(l, q, filter)) out.push(l)
    return out.reverse()
  }

  /** Dead letters per source durable, for the overview. */
  depthBySource(): ReadonlyMap<string, number> {
    const depth = new Map<string, number>()
    for (const l of this.letters.values()) depth.set(sourceOf(l), (depth.get(sourceOf(l)) ?? 0) + 1)
    return depth
  }
}
