import { DeadLetterFailed, DeadLetterHeaders, deadLetterHeaders, type DeadLetterSink, tracedPublisher } from "@conveyor/messaging"
import { defineTopology, type Topology } from "@conveyor/topology"
import { Effect } from "effect"
import type { NatsClient } from "./connection.js"
import { makeJetStreamPublisher } from "./publisher.js"

export interface DeadLetterStreamOptions {
  readonly stream: string
  /** Dead letters go to `<prefix>.<source stream>.<consumer>`. */
  readonly subjectPrefix: string
}

export const defaultDeadLetters: DeadLetterStreamOptions = { stream: "DEAD_LETTERS", subjectPrefix: "dlq" }

/** The dead-letter stream as topology: file storage, kept 14 days, so nothing vanishes quietly. */
export const deadLetterTopology = (options: DeadLetterStreamOptions = defaultDeadLetters, overrides: { maxAgeMs?: number; maxBytes?: number } = {}): Topology =>
  defineTopology({
    streams: [
      {
        name: options.stream,
        subjects: [`${options.subjectPrefix}.>`],
        description: "Conveyor dead letters: original payload and headers plus why and where they failed",
        maxAgeMs: overrides.maxAgeMs ?? 14 * 24 * 3_600_000,
        maxBytes: overrides.maxBytes ?? -1
      }
    ]
  })

export const deadLetterSubject = (options: DeadLetterStreamOptions, stream: string, consumer: string): string =>
  `${options.subjectPrefix}.${stream}.${consumer}`

/**
 * Copies a failed message to the dead-letter stream and waits for its PubAck. Its message id is
 * derived from the source stream sequence and consumer, so a second copy after a crash is dropped.
 * The copy is published under a PRODUCER span `publish <dlq subject>`, a child of the failed
 * delivery's CONSUMER span, and carries that span's context (the delivery's own is kept in
 * `Conveyor-Original-Traceparent`).
 */
export const makeJetStreamDeadLetterSink = (client: NatsClient, options: DeadLetterStreamOptions = defaultDeadLetters): DeadLetterSink["Type"] => {
  const publisher = tracedPublisher(makeJetStreamPublisher(client))
  return {
    send: (record) => {
      const d = record.delivery
      return publisher
        .publish({
          subject: deadLetterSubject(options, d.stream, d.consumer),
          payload: d.payload,
          msgId: `dlq:${d.stream}:${d.streamSequence}:${d.consumer}`,
          headers: deadLetterHeaders(record, new Date())
        })
        .pipe(Effect.asVoid, Effect.mapError((e) => new DeadLetterFailed({ reason: e.message })))
    }
  }
}

export { DeadLetterHeaders }
