import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream"
import { JsPublishError } from "./pub-ack-pipeline.js"

/**
 * What JetStream's answers mean, decided by the codes nats.js exports (`JetStreamApiCodes`), never
 * by an error's text. A JetStream API call fails with a `JetStreamApiError`; a publish through the
 * PubAck pipeline with a `JsPublishError` carrying the same code.
 */
const codeOf = (e: unknown): number | undefined =>
  e instanceof JetStreamApiError ? e.code : e instanceof JsPublishError ? e.errCode : undefined

const hasCode = (e: unknown, ...codes: ReadonlyArray<number>): boolean => {
  const code = codeOf(e)
  return code !== undefined && codes.includes(code)
}

/** The stream or the consumer asked about does not exist. */
export const isStreamOrConsumerNotFound = (e: unknown): boolean => hasCode(e, JetStreamApiCodes.StreamNotFound, JetStreamApiCodes.ConsumerNotFound)

/** The stream asked about does not exist. */
export const isStreamNotFound = (e: unknown): boolean => hasCode(e, JetStreamApiCodes.StreamNotFound)

/** No message at the sequence or subject asked for (or no stream to look in). */
export const isNoMessageFound = (e: unknown): boolean => hasCode(e, JetStreamApiCodes.NoMessageFound, JetStreamApiCodes.StreamNotFound)

/** A compare-and-set lost: the key's (or subject's) last sequence was not the expected one. */
export const isWrongLastSequence = (e: unknown): boolean =>
  hasCode(e, JetStreamApiCodes.StreamWrongLastSequence, JetStreamApiCodes.StreamWrongLastSequenceUnknown)
