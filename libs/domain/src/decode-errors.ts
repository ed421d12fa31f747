import { Data } from "effect"

/** Which union a decoder produces; part of every error so dead letters say what was expected. */
export type Family = "event" | "command"

/**
 * Why a payload cannot be decoded. All are permanent: redelivering the same bytes decodes the same
 * way, so the runtime dead-letters them at once.
 */
export class MalformedMessage extends Data.TaggedError("MalformedMessage")<{
  readonly family: Family
  readonly reason: string
}> {
  override get message() {
    return `malformed ${this.family}: ${this.reason}`
  }
}

export class UnknownMessageType extends Data.TaggedError("UnknownMessageType")<{
  readonly family: Family
  readonly type: string
  readonly known: ReadonlyArray<string>
}> {
  override get message() {
    return `unknown ${this.family} type ${JSON.stringify(this.type)} (known: ${this.known.join(", ")})`
  }
}

export class UnknownMessageVersion extends Data.TaggedError("UnknownMessageVersion")<{
  readonly family: Family
  readonly type: string
  readonly version: unknown
  readonly known: ReadonlyArray<number>
}> {
  override get message() {
    return `unknown version ${JSON.stringify(this.version) ?? "undefined"} of ${this.family} ${this.type} (known: ${this.known.join(", ")})`
  }
}

export interface FieldIssue {
  /** Dotted path to the failing field, e.g. "items.0.quantity"; "" for the message as a whole. */
  readonly path: string
  readonly message: string
}

export class InvalidMessage extends Data.TaggedError("InvalidMessage")<{
  readonly family: Family
  readonly type: string
  readonly version: number
  readonly issues: ReadonlyArray<FieldIssue>
}> {
  override get message() {
    const issues = this.issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ")
    return `invalid ${this.family} ${this.type} v${this.version}: ${issues}`
  }
}

export type DecodeError = MalformedMessage | UnknownMessageType | UnknownMessageVersion | InvalidMessage
