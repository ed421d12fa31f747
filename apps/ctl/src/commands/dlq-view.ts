import { utf8, viewPayload } from "@conveyor/console/reads/payload"
import type { DeadLetter, DeadLetterFilter } from "@conveyor/nats"
import { Either, Option } from "effect"
import { ctlError, type CtlError, ExitCode } from "../errors.js"
import { oneLine, table } from "../format.js"

/** The filter flags as parsed by @effect/cli. */
export interface FilterFlags {
  readonly subject: Option.Option<string>
  readonly source: Option.Option<string>
  readonly consumer: Option.Option<string>
  readonly error: Option.Option<string>
  readonly errorContains: Option.Option<string>
  readonly since: Option.Option<string>
  readonly until: Option.Option<string>
}

const RELATIVE = /^(\d+)\s*(s|m|h|d)$/
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** An ISO time, or a duration back from `now`: `30m`, `2h`, `7d`. */
export const parseTime = (flag: string, value: string, now: Date): Either.Either<Date, CtlError> => {
  const relative = RELATIVE.exec(value.trim())
  if (relative !== null) return Either.right(new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]))
  const t = Date.parse(value)
  return Number.isNaN(t)
    ? Either.left(ctlError(ExitCode.usage, `--${flag} ${value}: expected an ISO time (2026-01-31T12:00:00Z) or a duration back from now (30m, 2h, 7d)`))
    : Either.right(new Date(t))
}

export interface Selection {
  /** What the library filters on. */
  readonly filter: DeadLetterFilter
  /** Narrowing the library has no field for, applied to its result. */
  readonly errorContains: string | undefined
  readonly empty: boolean
}

export const selection = (flags: FilterFlags, sequences: ReadonlyArray<number>, now: Date): Either.Either<Selection, CtlError> =>
  Either.gen(function* () {
    const since = Option.isSome(flags.since) ? yield* parseTime("since", flags.since.value, now) : undefined
    const until = Option.isSome(flags.until) ? yield* parseTime("until", flags.until.value, now) : undefined
    const filter: DeadLetterFilter = {
      ...Option.match(flags.subject, { onNone: () => ({}), onSome: (originalSubject) => ({ originalSubject }) }),
      ...Option.match(flags.source, { onNone: () => ({}), onSome: (originalStream) => ({ originalStream }) }),
      ...Option.match(flags.consumer, { onNone: () => ({}), onSome: (consumer) => ({ consumer }) }),
      ...Option.match(flags.error, { onNone: () => ({}), onSome: (errorTag) => ({ errorTag }) }),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(sequences.length > 0 ? { sequences } : {})
    }
    const errorContains = Option.getOrUndefined(flags.errorContains)
    return { filter, errorContains, empty: Object.keys(filter).length === 0 && errorContains === undefined }
  })

export const narrow = (letters: ReadonlyArray<DeadLetter>, s: Selection): ReadonlyArray<DeadLetter> =>
  s.errorContains === undefined
    ? letters
    : letters.filter((l) => l.errorMessage.toLowerCase().includes(s.errorContains!.toLowerCase()))

/** A dead letter as JSON: the payload as text when it is UTF-8, base64 otherwise. */
export const letterJson = (l: DeadLetter) => {
  const text = utf8(l.payload)
  return {
    sequence: l.sequence,
    deadLetteredAt: l.deadLetteredAt.toISOString(),
    originalSubject: l.originalSubject,
    originalStream: l.originalStream,
    originalSequence: l.originalSequence,
    originalMessageId: l.originalMessageId,
    consumer: l.consumer,
    reason: l.reason,
    attempts: l.attempts,
    errorTag: l.errorTag,
    errorMessage: l.errorMessage,
    headers: l.headers,
    ...(text !== undefined ? { payload: text } : { payloadBase64: Buffer.from(l.payload).toString("base64") })
  }
}

export const renderList = (letters: ReadonlyArray<DeadLetter>): string =>
  letters.length === 0
    ? "no dead letters match"
    : `${table(letters, [
        { header: "SEQ", value: (l) => String(l.sequence), align: "right" },
        { header: "DEAD-LETTERED", value: (l) => l.deadLetteredAt.toISOString() },
        { header: "ORIGINAL SUBJECT", value: (l) => l.originalSubject },
        { header: "CONSUMER", value: (l) => `${l.originalStream}/${l.consumer}` },
        { header: "ATTEMPTS", value: (l) => String(l.attempts), align: "right" },
        { header: "REASON", value: (l) => l.reason },
        { header: "ERROR", value: (l) => oneLine(`${l.errorTag}: ${l.errorMessage}`, 60) }
      ])}\n\n${letters.length} dead letter(s)`

export const renderLetter = (l: DeadLetter): string => {
  const lines = [
    `dead letter ${l.sequence}  (dead-lettered ${l.deadLetteredAt.toISOString()}, ${l.reason}, after ${l.attempts} attempt(s))`,
    `original    ${l.originalSubject}  (stream ${l.originalStream} seq ${l.originalSequence}, consumer ${l.consumer}, id ${l.originalMessageId})`,
    `error       ${l.errorTag}: ${l.errorMessage}`,
    "",
    "headers",
    ...Object.keys(l.headers).sort().map((k) => `  ${k}: ${l.headers[k]}`),
    ""
  ]
  const payload = viewPayload(l.originalSubject, l.payload)
  if (payload.kind === "binary") lines.push(`payload (${l.payload.length} bytes, not UTF-8; base64)`, payload.base64)
  else if (payload.kind === "text") lines.push(`payload (${l.payload.length} bytes, text, not JSON)`, payload.text)
  else lines.push(`payload (${l.payload.length} bytes, JSON${payload.note !== undefined ? `; ${payload.note}` : ""})`, payload.text)
  return lines.join("\n")
}
