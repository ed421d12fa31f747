import { defaultDeadLetters, type NatsClient, purgeDeadLetters, replayDeadLetters, type ReplayProgress } from "@conveyor/nats"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"

/**
 * Replays and purges run in the background, one letter at a time (the library's own loop), while
 * the page polls the job: progress and a result per letter. The same call in dry-run mode is the
 * preview, so the preview shows exactly what the run would do, target subject included.
 */
export type JobKind = "replay" | "purge"

export interface LetterResult {
  readonly sequence: number
  readonly originalSubject: string
  readonly source: string
  readonly result: ReplayProgress["result"]
  readonly target?: string
  readonly reason?: string
}

export interface Job {
  readonly id: string
  readonly kind: JobKind
  readonly dryRun: boolean
  readonly by: string
  readonly startedAt: Date
  readonly total: number
  readonly results: Array<LetterResult>
  finished: boolean
  error: string | undefined
}

const resultOf = (p: ReplayProgress): LetterResult => ({
  sequence: p.letter.sequence,
  originalSubject: p.letter.originalSubject,
  source: `${p.letter.originalStream}/${p.letter.consumer}`,
  result: p.result,
  ...(p.target !== undefined ? { target: p.target } : {}),
  ...(p.reason !== undefined ? { reason: p.reason } : {})
})

export class Jobs {
  private readonly byId = new Map<string, Job>()
  constructor(private readonly client: NatsClient, private readonly stream: string, private readonly onRemoved: (sequences: ReadonlyArray<number>) => void) {}

  get(id: string): Job | undefined {
    return this.byId.get(id)
  }

  /** Starts a job over exactly these letters (as the operator saw them in the preview). */
  start(kind: JobKind, sequences: ReadonlyArray<number>, dryRun: boolean, by: string): Job {
    const job: Job = { id: randomBytes(12).toString("base64url"), kind, dryRun, by, startedAt: new Date(), total: sequences.length, results: [], finished: false, error: undefined }
    this.byId.set(job.id, job)
    this.trim()
    const options = { deadLetters: { ...defaultDeadLetters, stream: this.stream }, dryRun, onProgress: (p: ReplayProgress) => void job.results.push(resultOf(p)) }
    const filter = { sequences }
    const run: Effect.Effect<unknown, Error> = kind === "replay" ? replayDeadLetters(this.client, filter, options) : purgeDeadLetters(this.client, filter, options)
    const finish = Effect.sync(() => {
      job.finished = true
      this.onRemoved(job.results.filter((r) => r.result === "replayed" || r.result === "purged").map((r) => r.sequence))
    })
    const work = run.pipe(
      Effect.catchAll((e) => Effect.sync(() => void (job.error = e.message))),
      Effect.ensuring(finish)
    )
    Effect.runFork(work)
    return job
  }

  /** Keeps the newest 100 jobs. */
  private trim() {
    const ids = [...this.byId.keys()]
    for (const id of ids.slice(0, Math.max(0, ids.length - 100))) this.byId.delete(id)
  }
}
