import { replaySubjectOf, subjectMatches } from "@conveyor/topology"
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream"
import { DeadLetterHeaders } from "@conveyor/messaging"
import { ORIGINAL_TRACEPARENT_HEADER, preserveOriginalTraceparent } from "@conveyor/telemetry"
import { Data, Effect } from "effect"
import type { NatsClient } from "./connection.js"
import { checkDeadLetter } from "./internal/dead-letter-check.js"
import { defaultDeadLetters, type DeadLetterStreamOptions } from "./dead-letters.js"
import { errorText } from "./errors.js"
import { isNoMessageFound, isStreamNotFound } from "./internal/jetstream-errors.js"
import { fromMsgHdrs, toMsgHdrs } from "./internal/headers.js"

/** One message in the dead-letter stream, with its envelope parsed. */
export interface DeadLetter {
  /** Sequence in the dead-letter stream: what replay, purge and inspect address. */
  readonly sequence: number
  /** Its subject in the dead-letter stream, `dlq.<stream>.<consumer>`: set by who published it. */
  readonly subject: string
  readonly payload: Uint8Array
  /** Everything it carries: the original headers plus the Conveyor-* envelope. */
  readonly headers: Readonly<Record<string, string>>
  readonly originalSubject: string
  readonly originalStream: string
  readonly originalSequence: number
  readonly originalMessageId: string
  readonly consumer: string
  readonly errorTag: string
  readonly errorMessage: string
  readonly reason: string
  readonly attempts: number
  readonly deadLetteredAt: Date
}

/** Every field narrows; an empty filter matches everything. */
export interface DeadLetterFilter {
  /** A subject or a pattern with NATS wildcards (`orders.*`, `orders.>`). */
  readonly originalSubject?: string
  readonly originalStream?: string
  readonly consumer?: string
  readonly errorTag?: string
  /** Dead-lettered at or after / before this time. */
  readonly since?: Date
  readonly until?: Date
  /** Dead-letter stream sequences, e.g. the one to replay. */
  readonly sequences?: ReadonlyArray<number>
  readonly fromSequence?: number
  readonly toSequence?: number
}

export class DeadLetterStoreError extends Data.TaggedError("DeadLetterStoreError")<{
  readonly operation: string
  readonly cause: string
  /** The dead-letter stream does not exist. */
  readonly streamNotFound: boolean
}> {
  override get message() {
    return `dead letters: ${this.operation} failed: ${this.cause}`
  }
}

/**
 * Headers a replay drops: the dead letter's envelope (the lineage is kept below) and the server's
 * own `Nats-*` headers (the dead letter's id; expectations that would make the republish fail).
 */
const envelopeHeaders = new Set<string>(Object.values(DeadLetterHeaders))
const dropOnReplay = (header: string) => envelopeHeaders.has(header) || /^nats-/i.test(header)

export const matchesFilter = (letter: DeadLetter, filter: DeadLetterFilter): boolean =>
  (filter.originalSubject === undefined || subjectMatches(filter.originalSubject, letter.originalSubject)) &&
  (filter.originalStream === undefined || filter.originalStream === letter.originalStream) &&
  (filter.consumer === undefined || filter.consumer === letter.consumer) &&
  (filter.errorTag === undefined || filter.errorTag === letter.errorTag) &&
  (filter.since === undefined || letter.deadLetteredAt.getTime() >= filter.since.getTime()) &&
  (filter.until === undefined || letter.deadLetteredAt.getTime() < filter.until.getTime()) &&
  (filter.sequences === undefined || filter.sequences.includes(letter.sequence)) &&
  (filter.fromSequence === undefined || letter.sequence >= filter.fromSequence) &&
  (filter.toSequence === undefined || letter.sequence <= filter.toSequence)

const toDeadLetter = (sequence: number, subject: string, payload: Uint8Array, headers: Record<string, string>, storedAt: Date): DeadLetter => {
  const at = headers[DeadLetterHeaders.deadLetteredAt]
  return {
    sequence,
    subject,
    payload,
    headers,
    originalSubject: headers[DeadLetterHeaders.originalSubject] ?? "",
    originalStream: headers[DeadLetterHeaders.originalStream] ?? "",
    originalSequence: Number(headers[DeadLetterHeaders.originalSequence] ?? 0),
    originalMessageId: headers[DeadLetterHeaders.originalMessageId] ?? "",
    consumer: headers[DeadLetterHeaders.consumer] ?? "",
    errorTag: headers[DeadLetterHeaders.errorTag] ?? "",
    errorMessage: headers[DeadLetterHeaders.errorMessage] ?? "",
    reason: headers[DeadLetterHeaders.reason] ?? "",
    attempts: Number(headers[DeadLetterHeaders.attempts] ?? 0),
    deadLetteredAt: at !== undefined && !Number.isNaN(Date.parse(at)) ? new Date(at) : storedAt
  }
}

const fromJsMsg = (m: JsMsg): DeadLetter =>
  toDeadLetter(m.seq, m.subject, m.data, fromMsgHdrs(m.headers), new Date(Math.floor(m.info.timestampNanos / 1_000_000)))

const api = <A>(operation: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new DeadLetterStoreError({ operation, cause: errorText(e), streamNotFound: isStreamNotFound(e) }) })

/**
 * The dead letters matching `filter`, oldest first (at most `limit`). Reads the stream with an
 * ordered consumer in batches from the first sequence the filter allows; the stream is not
 * changed.
 */
export const listDeadLetters = (
  client: NatsClient,
  filter: DeadLetterFilter = {},
  options: { readonly deadLetters?: DeadLetterStreamOptions; readonly limit?: number } = {}
): Effect.Effect<ReadonlyArray<DeadLetter>, DeadLetterStoreError> =>
  api("list", async () => {
    const stream = (options.deadLetters ?? defaultDeadLetters).stream
    const limit = options.limit ?? Number.POSITIVE_INFINITY
    const info = await client.jsm.streams.info(stream)
    // Read only the range the filter can match: explicit sequences bound it on both sides.
    const explicit = filter.sequences !== undefined && filter.sequences.length > 0 ? filter.sequences : undefined
    const start = Math.max(info.state.first_seq, filter.fromSequence ?? 1, explicit !== undefined ? Math.min(...explicit) : 1)
    const last = Math.min(info.state.last_seq, filter.toSequence ?? Number.POSITIVE_INFINITY, explicit !== undefined ? Math.max(...explicit) : Number.POSITIVE_INFINITY)
    const found: Array<DeadLetter> = []
    if (info.state.messages === 0 || start > last) return found
    const consumer = await client.js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start })
    try {
      for (;;) {
        // `expires` bounds the wait when the rest of the range was deleted meanwhile.
        const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 })
        let received = 0
        let finished = false
        for await (const m of batch) {
          received++
          if (m.seq > last) {
            finished = true
            break
          }
          const letter = fromJsMsg(m)
          if (matchesFilter(letter, filter)) found.push(letter)
          if (found.length >= limit || m.seq >= last || m.info.pending === 0) {
            finished = true
            break
          }
        }
        if (finished || received === 0) return found
      }
    } finally {
      await consumer.delete().catch(() => undefined)
    }
  })

/** One dead letter by its sequence in the dead-letter stream; undefined when there is none. */
export const inspectDeadLetter = (
  client: NatsClient,
  sequence: number,
  options: { readonly deadLetters?: DeadLetterStreamOptions } = {}
): Effect.Effect<DeadLetter | undefined, DeadLetterStoreError> =>
  api("inspect", async () => {
    const stream = (options.deadLetters ?? defaultDeadLetters).stream
    const m = await client.jsm.streams.getMessage(stream, { seq: sequence }).catch((e: unknown) => {
      if (isNoMessageFound(e)) return null
      throw e
    })
    return m === null ? undefined : toDeadLetter(m.seq, m.subject, m.data, fromMsgHdrs(m.header), m.time)
  })

/**
 * What a replay sends for a dead letter: the original payload and headers, a new id, the lineage.
 * `replaySubject`, the failed durable's own replay subject when it has one, is where it goes
 * instead of the original subject, so only that durable processes it again.
 */
export const replayMessage = (letter: DeadLetter, deadLetterStream: string, replaySubject?: string) => {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(letter.headers)) if (!dropOnReplay(k)) headers[k] = v
  const original = preserveOriginalTraceparent(letter.headers)[ORIGINAL_TRACEPARENT_HEADER]
  if (original !== undefined) headers[ORIGINAL_TRACEPARENT_HEADER] = original
  headers[DeadLetterHeaders.replayOf] = letter.originalMessageId
  if (replaySubject !== undefined) headers[DeadLetterHeaders.replayOfSubject] = letter.originalSubject
  // The replay starts a trace of its own that links to the original, rather than continuing one
  // that ended in a dead letter.
  delete headers["traceparent"]
  delete headers["tracestate"]
  return {
    subject: replaySubject ?? letter.originalSubject,
    payload: letter.payload,
    headers,
    // New, but stable per dead letter: replaying again after a crash between the republish and
    // the removal is dropped by the target stream's duplicate window.
    msgId: `replay:${deadLetterStream}:${letter.sequence}`
  }
}

export interface ReplayProgress {
  readonly done: number
  readonly total: number
  readonly letter: DeadLetter
  readonly result: "replayed" | "would-replay" | "failed" | "purged" | "would-purge"
  /** Replays: the subject the letter was (or, in a dry run, would be) republished to. */
  readonly target?: string
  /** Failed replays: why the letter stayed. */
  readonly reason?: string
}

export interface ReplayOptions {
  readonly deadLetters?: DeadLetterStreamOptions
  /** Report what would move; publish and remove nothing. */
  readonly dryRun?: boolean
  /** Messages per second at most (replaying into a struggling consumer should not bury it). */
  readonly ratePerSecond?: number
  readonly limit?: number
  readonly onProgress?: (progress: ReplayProgress) => void
}

export interface ReplayReport {
  readonly dryRun: boolean
  readonly matched: number
  /** Republished (acked by the target stream) and removed from the dead-letter stream. */
  readonly replayed: ReadonlyArray<DeadLetter>
  /** Left in the dead-letter stream: the republish was not acked, or the removal failed. */
  readonly failed: ReadonlyArray<{ readonly letter: DeadLetter; readonly reason: string }>
}

/**
 * The replay subject of the durable that dead-lettered `letter`, when that durable takes one
 * (nats-server 2.10+ filter subjects); else undefined and the letter goes to its original subject,
 * where every durable on it gets it again.
 */
const replaySubjectFor = async (client: NatsClient, letter: DeadLetter): Promise<string | undefined> => {
  if (letter.originalStream === "" || letter.consumer === "") return undefined
  const subject = replaySubjectOf(letter.originalStream, letter.consumer)
  const info = await client.jsm.consumers.info(letter.originalStream, letter.consumer).catch(() => undefined)
  return info?.config.filter_subjects?.includes(subject) === true ? subject : undefined
}

/**
 * Replays the matching dead letters, one at a time and in order, to the replay subject of the
 * durable that failed them (only it processes them again) or, when it has none, to their original subjects,
 * each with a new message id, `Conveyor-Replay-Of` set to the original id and the original trace
 * context in `Conveyor-Original-Traceparent`. A letter is removed from the dead-letter stream
 * only after the target stream acked its republish; one that fails stays and is reported. So does
 * one that does not match its stored original (`checkDeadLetter`): a letter is a claim of whoever
 * published it, and replaying a forged one would run a command nobody sent.
 */
export const replayDeadLetters = (client: NatsClient, filter: DeadLetterFilter, options: ReplayOptions = {}): Effect.Effect<ReplayReport, DeadLetterStoreError> =>
  Effect.gen(function* () {
    const stream = (options.deadLetters ?? defaultDeadLetters).stream
    const letters = yield* listDeadLetters(client, filter, options)
    const dryRun = options.dryRun ?? false
    const replayed: Array<DeadLetter> = []
    const failed: Array<{ letter: DeadLetter; reason: string }> = []
    const gapMs = options.ratePerSecond !== undefined && options.ratePerSecond > 0 ? 1_000 / options.ratePerSecond : 0
    let done = 0
    // Looked up once per durable.
    const targets = new Map<string, Promise<string | undefined>>()
    const targetOf = (letter: DeadLetter) => {
      const key = `${letter.originalStream}/${letter.consumer}`
      if (!targets.has(key)) targets.set(key, replaySubjectFor(client, letter))
      return targets.get(key)!
    }
    for (const letter of letters) {
      if (gapMs > 0 && done > 0 && !dryRun) yield* Effect.sleep(gapMs)
      let result: ReplayProgress["result"] = "would-replay"
      let target: string | undefined
      let reason: string | undefined
      const refused = yield* checkDeadLetter(client, letter)
      if (refused !== undefined) {
        reason = `not replayed: ${refused}`
        failed.push({ letter, reason })
        result = "failed"
      } else {
        const message = replayMessage(letter, stream, yield* Effect.promise(() => targetOf(letter)))
        target = message.subject
        if (!dryRun) {
          const sent = yield* Effect.either(
            api("republish", async () => {
              await client.js.publish(message.subject, message.payload, { msgID: message.msgId, headers: toMsgHdrs(message.headers)! })
              // Only now: the republish is stored, so removing the copy cannot lose the message.
              await client.jsm.streams.deleteMessage(stream, letter.sequence, false)
            })
          )
          if (sent._tag === "Right") {
            replayed.push(letter)
            result = "replayed"
          } else {
            reason = sent.left.cause
            failed.push({ letter, reason })
            result = "failed"
          }
        }
      }
      done++
      options.onProgress?.({ done, total: letters.length, letter, result, ...(target !== undefined ? { target } : {}), ...(reason !== undefined ? { reason } : {}) })
    }
    return { dryRun, matched: letters.length, replayed: dryRun ? [] : replayed, failed }
  })

/** Removes the matching dead letters for good (all of them with an empty filter). */
export const purgeDeadLetters = (
  client: NatsClient,
  filter: DeadLetterFilter,
  options: Omit<ReplayOptions, "ratePerSecond"> = {}
): Effect.Effect<{ readonly dryRun: boolean; readonly purged: ReadonlyArray<DeadLetter> }, DeadLetterStoreError> =>
  Effect.gen(function* () {
    const stream = (options.deadLetters ?? defaultDeadLetters).stream
    const letters = yield* listDeadLetters(client, filter, options)
    const dryRun = options.dryRun ?? false
    let done = 0
    for (const letter of letters) {
      if (!dryRun) yield* api("purge", () => client.jsm.streams.deleteMessage(stream, letter.sequence, false))
      done++
      options.onProgress?.({ done, total: letters.length, letter, result: dryRun ? "would-purge" : "purged" })
    }
    return { dryRun, purged: letters }
  })
