import { Data, type Effect } from "effect"

/**
 * One delivery of a stored message to a durable consumer, independent of the client library.
 * `ack`/`nak`/`term`/`working` are the broker's dispositions; the runner alone calls them.
 */
export interface Delivery {
  readonly subject: string
  readonly payload: Uint8Array
  readonly headers: Readonly<Record<string, string>>
  /** `Nats-Msg-Id` when the publisher set one, else `<stream>:<sequence>` (stable across redeliveries). */
  readonly messageId: string
  readonly stream: string
  readonly consumer: string
  readonly streamSequence: number
  /** 1 on the first delivery. */
  readonly deliveryCount: number
  readonly publishedAt: Date
  /** Confirmed by the server (double ack): after it succeeds the message will not come back. */
  readonly ack: Effect.Effect<void, AckFailed>
  readonly nak: (delayMs: number) => Effect.Effect<void>
  readonly term: (reason: string) => Effect.Effect<void>
  /** Resets AckWait for one more period. */
  readonly working: Effect.Effect<void>
  /**
   * Sends the ack at once when it needs no reply (a fire-and-forget ack) and says so; false when
   * acks must be confirmed (`ack` then). Lets the runner settle a delivery whose processing
   * completed synchronously without a step through the Effect run loop. Optional.
   */
  readonly ackNow?: () => boolean
}

export class AckFailed extends Data.TaggedError("AckFailed")<{ readonly messageId: string; readonly reason: string }> {}
