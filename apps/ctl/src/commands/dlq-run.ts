import type { Command } from "@effect/cli"
import { Prompt } from "@effect/cli"
import {
  type DeadLetter, type DeadLetterFilter, type DeadLetterStoreError, defaultDeadLetters, inspectDeadLetter, listDeadLetters,
  NatsConnection, purgeDeadLetters, replayDeadLetters, type ReplayProgress
} from "@conveyor/nats"
import { Console, Effect } from "effect"
import { withNats } from "../connection.js"
import { ctlError, type CtlError, ExitCode, fromApiError } from "../errors.js"
import type { listFlags, purgeFlags, replayFlags, showFlags } from "./dlq.js"
import { letterJson, narrow, renderLetter, renderList, selection, type Selection } from "./dlq-view.js"
import { progressBar } from "./progress.js"

const storeError = (stream: string) => (e: DeadLetterStoreError): CtlError =>
  e.streamNotFound ? ctlError(ExitCode.notFound, `unknown stream ${stream}`) : ctlError(ExitCode.failure, e.message)

const requireStream = (stream: string) =>
  Effect.flatMap(NatsConnection, (client) =>
    Effect.tryPromise({ try: () => client.jsm.streams.info(stream), catch: fromApiError(`stream ${stream}`) })
  )

const select = (flags: Parameters<typeof selection>[0], seqs: ReadonlyArray<number>) =>
  Effect.suspend(() => selection(flags, seqs, new Date()))

/** The letters a command acts on, listed first so it acts on exactly what it reports. */
const matching = (stream: string, s: Selection, limit?: number) =>
  Effect.flatMap(NatsConnection, (client) =>
    listDeadLetters(client, s.filter, {
      deadLetters: { ...defaultDeadLetters, stream },
      ...(limit !== undefined && s.errorContains === undefined ? { limit } : {})
    }).pipe(
      Effect.mapError(storeError(stream)),
      Effect.map((letters) => narrow(letters, s).slice(0, limit ?? Number.POSITIVE_INFINITY))
    )
  )

const requireScope = (s: Selection, seqs: ReadonlyArray<number>, everything: boolean, verb: string) =>
  s.empty && seqs.length === 0 && !everything
    ? Effect.fail(ctlError(ExitCode.usage, `say what to ${verb}: sequence numbers, a filter (--subject, --error, --since, ...) or --all`))
    : Effect.void

const missingSequences = (seqs: ReadonlyArray<number>, found: ReadonlyArray<DeadLetter>, stream: string) => {
  const have = new Set(found.map((l) => l.sequence))
  const missing = seqs.filter((q) => !have.has(q))
  return missing.length > 0 && found.length === 0
    ? Effect.fail(ctlError(ExitCode.notFound, `no dead letter with sequence ${missing.join(", ")} in ${stream}`))
    : Effect.void
}

/** The letters replay or purge act on: named by sequence, by a filter or --all, never by default. */
const lettersToAct = (
  args: Parameters<typeof selection>[0] & { readonly dlqStream: string; readonly seqs: ReadonlyArray<number>; readonly all: boolean },
  verb: string
) =>
  Effect.gen(function* () {
    yield* requireStream(args.dlqStream)
    const s = yield* select(args, args.seqs)
    yield* requireScope(s, args.seqs, args.all, verb)
    const letters = yield* matching(args.dlqStream, s)
    yield* missingSequences(args.seqs, letters, args.dlqStream)
    return letters
  })


export const list = (args: Command.Command.ParseConfig<typeof listFlags>) =>
  withNats(
    args.nats,
    Effect.gen(function* () {
      yield* requireStream(args.dlqStream)
      const letters = yield* matching(args.dlqStream, yield* select(args, []), args.limit)
      const more = letters.length === args.limit ? `\n(the first ${args.limit}; more may match: raise --limit or narrow the filter)` : ""
      yield* Console.log(args.json ? JSON.stringify(letters.map(letterJson), null, 2) : `${renderList(letters)}${more}`)
    })
  )

export const show = (args: Command.Command.ParseConfig<typeof showFlags>) =>
  withNats(
    args.nats,
    Effect.gen(function* () {
      yield* requireStream(args.dlqStream)
      const client = yield* NatsConnection
      const letter = yield* inspectDeadLetter(client, args.seq, { deadLetters: { ...defaultDeadLetters, stream: args.dlqStream } }).pipe(
        Effect.mapError(storeError(args.dlqStream))
      )
      if (letter === undefined) return yield* ctlError(ExitCode.notFound, `no dead letter with sequence ${args.seq} in ${args.dlqStream}`)
      yield* Console.log(args.json ? JSON.stringify(letterJson(letter), null, 2) : renderLetter(letter))
    })
  )

export const replay = (args: Command.Command.ParseConfig<typeof replayFlags>) =>
  withNats(
    args.nats,
    Effect.gen(function* () {
      const letters = yield* lettersToAct(args, "replay")
      if (letters.length === 0) return yield* Console.log(args.json ? JSON.stringify({ matched: 0 }) : "no dead letters match")
      const client = yield* NatsConnection
      const bar = progressBar(args.dryRun ? "checking" : "replaying")
      const filter: DeadLetterFilter = { sequences: letters.map((l) => l.sequence) }
      const report = yield* replayDeadLetters(client, filter, {
        deadLetters: { ...defaultDeadLetters, stream: args.dlqStream },
        dryRun: args.dryRun,
        ...(args.rate._tag === "Some" ? { ratePerSecond: args.rate.value } : {}),
        onProgress: (p: ReplayProgress) => bar.update(p.done, p.total)
      }).pipe(Effect.mapError(storeError(args.dlqStream)), Effect.ensuring(Effect.sync(() => bar.done())))
      if (args.json) {
        yield* Console.log(JSON.stringify({
          dryRun: report.dryRun,
          matched: report.matched,
          replayed: report.replayed.map((l) => l.sequence),
          failed: report.failed.map((f) => ({ sequence: f.letter.sequence, reason: f.reason })),
          ...(report.dryRun ? { wouldReplay: letters.map(letterJson) } : {})
        }, null, 2))
      } else if (report.dryRun) {
        yield* Console.log(`${renderList(letters)}\n\ndry run: ${report.matched} dead letter(s) would be replayed to their original subjects; nothing changed`)
      } else {
        const failures = report.failed.map((f) => `  seq ${f.letter.sequence} (${f.letter.originalSubject}): ${f.reason}`)
        yield* Console.log([`replayed ${report.replayed.length} of ${report.matched}, ${report.failed.length} failed (left in ${args.dlqStream})`, ...failures].join("\n"))
      }
      if (report.failed.length > 0) {
        return yield* ctlError(ExitCode.partial, `${report.failed.length} of ${report.matched} dead letter(s) were not replayed and stay in ${args.dlqStream}`)
      }
    })
  )

export const purge = (args: Command.Command.ParseConfig<typeof purgeFlags>) =>
  withNats(
    args.nats,
    Effect.gen(function* () {
      const letters = yield* lettersToAct(args, "purge")
      if (letters.length === 0) return yield* Console.log(args.json ? JSON.stringify({ purged: [] }) : "no dead letters match")
      if (!args.yes && !args.dryRun) {
        if (process.stdin.isTTY !== true) {
          return yield* ctlError(ExitCode.refused, `refusing to purge ${letters.length} dead letter(s) without --yes in a non-interactive shell`)
        }
        yield* Console.log(renderList(letters))
        // Ctrl-C at the prompt is a "no".
        const ok = yield* Prompt.confirm({ message: `Remove these ${letters.length} dead letter(s) from ${args.dlqStream} for good?`, initial: false }).pipe(
          Effect.catchTag("QuitException", () => Effect.succeed(false))
        )
        if (!ok) return yield* ctlError(ExitCode.refused, "purge cancelled; nothing removed")
      }
      const client = yield* NatsConnection
      const result = yield* purgeDeadLetters(client, { sequences: letters.map((l) => l.sequence) }, {
        deadLetters: { ...defaultDeadLetters, stream: args.dlqStream },
        dryRun: args.dryRun
      }).pipe(Effect.mapError(storeError(args.dlqStream)))
      yield* Console.log(
        args.json
          ? JSON.stringify({ dryRun: result.dryRun, purged: result.purged.map((l) => l.sequence) }, null, 2)
          : result.dryRun
            ? `${renderList(result.purged)}\n\ndry run: ${result.purged.length} dead letter(s) would be removed; nothing changed`
            : `purged ${result.purged.length} dead letter(s) from ${args.dlqStream}`
      )
    })
  )
