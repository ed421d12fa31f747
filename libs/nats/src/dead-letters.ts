import { DeadLetterFailed, DeadLetterHeaders, deadLetterHeaders, type DeadLetterSink, tracedPublisher } from "@conveyor/messaging"
import { deadLetterSubject, defaultDeadLetters, type DeadLetterStreamOptions } from "@conveyor/topology"
import { Effect } from "effect"
import type { NatsClient } from "./connection.js"
import { makeJetStreamPublisher } from "./publisher.js"

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
          subject: deadLetterSubject(d.stream, d.consumer, options),
          payload: d.payload,
          msgId: `dlq:${d.stream}:${d.streamSequence}:${d.consumer}`,
          headers: deadLetterHeaders(record, new Date())
        })
        .pipe(Effect.asVoid, Effect.mapError((e) => new DeadLetterFailed({ reason: e.message })))
    }
  }
}

export { DeadLetterHeaders }
// Declared in @conveyor/topology (pure), offered here beside the sink that uses them.
export { deadLetterSubject, deadLetterTopology, defaultDeadLetters, type DeadLetterStreamOptions } from "@conveyor/topology"
