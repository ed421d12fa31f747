import { decodeCommand, decodeEvent } from "@conveyor/domain"
import { Either } from "effect"

/** The payload as text when it is valid UTF-8, else undefined. */
export const utf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}

const oneLine = (text: string, max: number) => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`
}

/** What the payload is to the order domain, when its subject is one of the domain's. */
export const schemaNote = (subject: string, value: unknown): string | undefined => {
  const decoded: Either.Either<{ readonly type: string; readonly version: number }, { readonly message: string }> | undefined =
    subject.startsWith("orders.events.") ? decodeEvent(value) : subject.startsWith("orders.commands.") ? decodeCommand(value) : undefined
  if (decoded === undefined) return undefined
  return Either.match(decoded, {
    onLeft: (e) => `does not decode: ${oneLine(e.message, 200)}`,
    onRight: (m) => `${m.type} v${m.version}, valid`
  })
}

/** A dead letter's payload as an operator reads it: JSON (pretty) with the domain's verdict, text, or base64. */
export type PayloadView =
  | { readonly kind: "json"; readonly text: string; readonly note: string | undefined }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "binary"; readonly base64: string }

export const viewPayload = (subject: string, bytes: Uint8Array): PayloadView => {
  const text = utf8(bytes)
  if (text === undefined) return { kind: "binary", base64: Buffer.from(bytes).toString("base64") }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { kind: "text", text }
  }
  return { kind: "json", text: JSON.stringify(json, null, 2), note: schemaNote(subject, json) }
}
