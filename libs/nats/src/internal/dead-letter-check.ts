import { subjectMatches } from "@conveyor/topology"
import { Effect } from "effect"
import type { NatsClient } from "../connection.js"
import { errorText } from "../errors.js"
import { isStreamOrConsumerNotFound } from "./jetstream-errors.js"

/** What a dead letter claims about where it came from, and the subject it was stored under. */
export interface DeadLetterClaim {
  /** The letter's subject in the dead-letter stream. */
  readonly subject: string
  readonly payload: Uint8Array
  readonly originalSubject: string
  readonly originalStream: string
  readonly originalSequence: number
  readonly consumer: string
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Why a dead letter must not be replayed, or undefined when it checks out. A letter's headers are
 * claims of whoever published it; what the server vouches for is its subject (only the owner of a
 * durable may publish `<prefix>.<stream>.<durable>`) and the stored original. So a letter is replayed
 * only when its subject names the stream and consumer its envelope claims, that consumer receives
 * the original subject, and the message stored at the original sequence has that subject and the
 * letter's payload. A letter whose original has left its stream (past the stream's age or size
 * limits) cannot be checked and is refused.
 */
export const checkDeadLetter = (client: NatsClient, letter: DeadLetterClaim): Effect.Effect<string | undefined> =>
  Effect.tryPromise({ try: () => check(client, letter), catch: errorText }).pipe(Effect.catchAll((e) => Effect.succeed(`cannot check the letter: ${e}`)))

const check = async (client: NatsClient, letter: DeadLetterClaim): Promise<string | undefined> => {
  const source = `${letter.originalStream}/${letter.consumer}`
  // Stream and durable names hold no dots: the last two tokens name them, whatever the prefix.
  if (letter.originalStream === "" || letter.consumer === "" || !letter.subject.endsWith(`.${letter.originalStream}.${letter.consumer}`)) {
    return `stored under ${letter.subject}, which is not the dead-letter subject of ${source} that it claims`
  }
  const consumer = await client.jsm.consumers.info(letter.originalStream, letter.consumer).catch((e: unknown) => {
    if (isStreamOrConsumerNotFound(e)) return undefined
    throw e
  })
  if (consumer === undefined) return `consumer ${source} does not exist: nothing to check its letter against`
  const { filter_subject: one, filter_subjects: many } = consumer.config
  const filters = many !== undefined && many.length > 0 ? many : one !== undefined && one !== "" ? [one] : [">"]
  if (!filters.some((f) => subjectMatches(f, letter.originalSubject))) return `${source} does not receive ${letter.originalSubject}`
  const original = await client.jsm.streams.getMessage(letter.originalStream, { seq: letter.originalSequence })
  if (original === null) return `the original ${letter.originalStream} #${letter.originalSequence} is gone: the letter cannot be checked against it`
  if (original.subject !== letter.originalSubject || !sameBytes(original.data, letter.payload)) {
    return `the original ${letter.originalStream} #${letter.originalSequence} has another subject or payload than the letter`
  }
  return undefined
}
