import { defineTopology, type Topology } from "./spec.js"

/** Where dead letters are kept: one stream, each letter under `<subjectPrefix>.<source stream>.<consumer>`. */
export interface DeadLetterStreamOptions {
  readonly stream: string
  /** Dead letters go to `<prefix>.<source stream>.<consumer>`. */
  readonly subjectPrefix: string
}

export const defaultDeadLetters: DeadLetterStreamOptions = { stream: "DEAD_LETTERS", subjectPrefix: "dlq" }

const DAY = 24 * 3_600_000

/**
 * The dead-letter stream, declared once for every app and test: file storage, kept 30 days (longer
 * than the streams they come from, so operators can inspect and replay them after an incident).
 * Every app that ensures it declares the same stream, so ensuring it after another topology never
 * rewrites that topology's retention.
 */
export const deadLetterTopology = (options: DeadLetterStreamOptions = defaultDeadLetters, overrides: { readonly maxAgeMs?: number; readonly maxBytes?: number } = {}): Topology =>
  defineTopology({
    streams: [
      {
        name: options.stream,
        subjects: [`${options.subjectPrefix}.>`],
        description: "Dead letters: original payload and headers plus why and where they failed",
        storage: "file",
        maxAgeMs: overrides.maxAgeMs ?? 30 * DAY,
        maxBytes: overrides.maxBytes ?? -1,
        duplicateWindowMs: 120_000
      }
    ]
  })

/** Where a message that failed on `consumer` of `stream` is dead-lettered (`dlq.<stream>.<consumer>` by default). */
export const deadLetterSubject = (stream: string, consumer: string, options: DeadLetterStreamOptions = defaultDeadLetters): string =>
  `${options.subjectPrefix}.${stream}.${consumer}`
