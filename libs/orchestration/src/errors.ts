import { Data } from "effect"

/** The bucket could not be read or written (connection, timeout, permissions): worth retrying. */
export class KvUnavailable extends Data.TaggedError("KvUnavailable")<{
  readonly bucket: string
  readonly key: string
  readonly reason: string
}> {
  override get message() {
    return `KV ${this.bucket}/${this.key}: ${this.reason}`
  }
}

/** Compare-and-set lost: someone wrote the key since we read it (or created it first). */
export class RevisionConflict extends Data.TaggedError("RevisionConflict")<{
  readonly bucket: string
  readonly key: string
}> {
  override get message() {
    return `KV ${this.bucket}/${this.key}: revision changed since it was read`
  }
}

/** A stored value does not decode: retrying cannot fix it, an operator has to. */
export class CorruptEntry extends Data.TaggedError("CorruptEntry")<{
  readonly bucket: string
  readonly key: string
  readonly reason: string
}> {
  override get message() {
    return `KV ${this.bucket}/${this.key} holds a value that does not decode: ${this.reason}`
  }
}

/** Lost the compare-and-set race this many times in a row; the message is retried later. */
export class TooManyConflicts extends Data.TaggedError("TooManyConflicts")<{
  readonly key: string
  readonly attempts: number
}> {
  override get message() {
    return `gave up on ${this.key} after losing ${this.attempts} compare-and-set races`
  }
}
