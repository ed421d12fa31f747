import { Schema } from "effect"

/** No stream captures the subject: the message would be dropped, so it is an error, never silence. */
export class NoStreamForSubject extends Schema.TaggedError<NoStreamForSubject>()("NoStreamForSubject", {
  subject: Schema.String
}) {
  override get message() {
    return `no JetStream stream captures subject '${this.subject}'`
  }
}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  subject: Schema.String,
  size: Schema.Number,
  detail: Schema.String
}) {
  override get message() {
    return `payload of ${this.size} bytes for '${this.subject}' is too large: ${this.detail}`
  }
}

/** The stream is at a limit and its discard policy is `new`. */
export class StreamFull extends Schema.TaggedError<StreamFull>()("StreamFull", {
  subject: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `stream for '${this.subject}' refused the message: ${this.detail}`
  }
}

/** No PubAck: timeout, lost connection, permission denied. The message may or may not be stored. */
export class PublishFailed extends Schema.TaggedError<PublishFailed>()("PublishFailed", {
  subject: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `publish to '${this.subject}' failed: ${this.reason}`
  }
}

export type PublishError = NoStreamForSubject | PayloadTooLarge | StreamFull | PublishFailed
