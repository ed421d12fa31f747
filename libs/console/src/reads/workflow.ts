import { Buckets, orderWorkflow } from "@conveyor/domain"
import { NatsConnection } from "@conveyor/nats/connection"
import { kvStreamName } from "@conveyor/nats/provisioning"
import { instanceJson } from "@conveyor/workflow"
import { Kvm } from "@nats-io/kv"
import { Data, Effect, Either, ParseResult, Schema } from "effect"
import { type OperatorReadError, readFailed } from "./errors.js"

export const defaultWorkflowBucket = Buckets.workflows

/** A stored instance as read: decoded when it matches the order workflow, raw otherwise. */
export interface WorkflowView {
  readonly bucket: string
  readonly id: string
  readonly revision: number
  readonly storedAt: string
  readonly raw: unknown
  readonly decoded: boolean
  /** Why the entry did not decode, when it did not. */
  readonly decodeError?: string
  readonly traceId: string | null
}

export class WorkflowNotFound extends Data.TaggedError("WorkflowNotFound")<{ readonly id: string; readonly bucket: string }> {
  override get message() {
    return `no workflow instance ${this.id} in bucket ${this.bucket}`
  }
}

const decodeInstance = Schema.decodeEither(instanceJson(orderWorkflow))

const traceIdOfTraceparent = (v: unknown): string | null =>
  typeof v === "string" && /^[\da-f]{2}-[\da-f]{32}-/.test(v) ? v.split("-")[1]! : null

/**
 * The orchestrator may keep the trace context with the instance; the instance format itself has no
 * trace field, so look for the usual names at the top level and in history entries.
 */
export const traceIdOf = (raw: unknown): string | null => {
  const fromRecord = (r: unknown): string | null => {
    if (typeof r !== "object" || r === null) return null
    const o = r as Record<string, unknown>
    for (const key of ["traceId", "trace_id"]) if (typeof o[key] === "string") return o[key]
    for (const key of ["traceparent", "traceParent"]) {
      const t = traceIdOfTraceparent(o[key])
      if (t !== null) return t
    }
    return null
  }
  const top = fromRecord(raw)
  if (top !== null) return top
  const history = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)["history"] : undefined
  if (Array.isArray(history)) for (const h of history) { const t = fromRecord(h); if (t !== null) return t }
  return null
}

export const readWorkflow = (id: string, bucket: string): Effect.Effect<WorkflowView, OperatorReadError | WorkflowNotFound, NatsConnection> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    yield* Effect.tryPromise({ try: () => client.jsm.streams.info(kvStreamName(bucket)), catch: readFailed(`bucket ${bucket}`) })
    const entry = yield* Effect.tryPromise({
      try: async () => (await new Kvm(client.js).open(bucket)).get(id),
      catch: readFailed(`workflow ${id} in bucket ${bucket}`)
    })
    if (entry === null || entry.operation !== "PUT") return yield* new WorkflowNotFound({ id, bucket })
    const text = entry.string()
    const raw = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => text }).pipe(Effect.merge)
    const decoded = decodeInstance(text)
    return {
      bucket,
      id,
      revision: entry.revision,
      storedAt: entry.created.toISOString(),
      raw,
      decoded: Either.isRight(decoded),
      ...(Either.isLeft(decoded) ? { decodeError: ParseResult.TreeFormatter.formatErrorSync(decoded.left).replace(/\s+/g, " ") } : {}),
      traceId: traceIdOf(raw)
    }
  })

/** The decoded instance's fields the CLI and the console show. */
export interface InstanceRecord {
  readonly workflow: string
  readonly state: { readonly _tag: string } & Record<string, unknown>
  readonly terminal: boolean
  readonly transitions: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly timers: ReadonlyArray<{ readonly name: string; readonly dueAt?: number }>
  readonly history: ReadonlyArray<{
    readonly seq: number; readonly event: string; readonly from?: string; readonly to: string; readonly at: number
    readonly causationId?: string; readonly commands: ReadonlyArray<{ readonly type: string }>
    /** Events the workflow emitted; absent from entries stored before they were told apart from its commands. */
    readonly events?: ReadonlyArray<{ readonly type: string }>
  } & Record<string, unknown>>
  readonly outbox: ReadonlyArray<{ readonly id: string } & Record<string, unknown>>
}

/** The instance of a view that decoded; undefined when it did not. */
export const instanceOf = (view: WorkflowView): InstanceRecord | undefined => (view.decoded ? (view.raw as InstanceRecord) : undefined)

/** The trace id of one history entry, when the entry keeps its trace context. */
export const hopTraceId = (entry: Record<string, unknown>): string | null => traceIdOf(entry)
