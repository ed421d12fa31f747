import { Buckets, orderWorkflow } from "@conveyor/domain"
import { NatsConnection } from "@conveyor/nats/connection"
import { kvStreamName } from "@conveyor/nats/provisioning"
import { instanceJson } from "@conveyor/workflow"
import { Kvm } from "@nats-io/kv"
import { Effect, Either, ParseResult, Schema } from "effect"
import { ctlError, type CtlError, ExitCode, fromApiError } from "../errors.js"
import { table } from "../format.js"

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

const decodeInstance = Schema.decodeEither(instanceJson(orderWorkflow))

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
      const v = o[key]
      if (typeof v === "string" && /^[\da-f]{2}-[\da-f]{32}-/.test(v)) return v.split("-")[1]!
    }
    return null
  }
  const top = fromRecord(raw)
  if (top !== null) return top
  const history = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)["history"] : undefined
  if (Array.isArray(history)) for (const h of history) { const t = fromRecord(h); if (t !== null) return t }
  return null
}

export const readWorkflow = (id: string, bucket: string): Effect.Effect<WorkflowView, CtlError, NatsConnection> =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    yield* Effect.tryPromise({ try: () => client.jsm.streams.info(kvStreamName(bucket)), catch: fromApiError(`bucket ${bucket}`) })
    const entry = yield* Effect.tryPromise({
      try: async () => (await new Kvm(client.js).open(bucket)).get(id),
      catch: fromApiError(`workflow ${id} in bucket ${bucket}`)
    })
    if (entry === null || entry.operation !== "PUT") {
      return yield* ctlError(ExitCode.notFound, `no workflow instance ${id} in bucket ${bucket}`)
    }
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

const time = (ms: unknown) => (typeof ms === "number" ? new Date(ms).toISOString() : "-")

export const renderWorkflow = (view: WorkflowView): string => {
  const lines = [`workflow ${view.id}  (bucket ${view.bucket}, revision ${view.revision}, stored ${view.storedAt})`]
  if (!view.decoded) {
    lines.push(`note: the entry does not decode as an order workflow instance: ${view.decodeError ?? ""}`, "", JSON.stringify(view.raw, null, 2))
    return lines.join("\n")
  }
  const i = view.raw as {
    workflow: string; state: { _tag: string } & Record<string, unknown>; terminal: boolean; transitions: number
    createdAt: number; updatedAt: number; timers: ReadonlyArray<{ name: string; dueAt?: number }>
    history: ReadonlyArray<{ seq: number; event: string; from?: string; to: string; at: number; causationId?: string; commands: ReadonlyArray<{ type: string }> }>
    outbox: ReadonlyArray<{ id: string }>
  }
  const { _tag, ...details } = i.state
  lines.push(
    `definition  ${i.workflow}`,
    `state       ${_tag}${i.terminal ? " (terminal)" : ""}`,
    `details     ${JSON.stringify(details)}`,
    `trace id    ${view.traceId ?? "not stored (the instance record has no trace context; find the trace by the order id in the tracing UI)"}`,
    `created     ${time(i.createdAt)}`,
    `updated     ${time(i.updatedAt)}  after ${i.transitions} transition(s)`,
    `timers      ${i.timers.length === 0 ? "none" : i.timers.map((t) => `${t.name}${t.dueAt !== undefined ? ` due ${time(t.dueAt)}` : ""}`).join(", ")}`,
    `outbox      ${i.outbox.length === 0 ? "empty" : `${i.outbox.length} message(s) not yet confirmed published`}`,
    "",
    "history",
    table(i.history, [
      { header: "#", value: (h) => String(h.seq), align: "right" },
      { header: "AT", value: (h) => time(h.at) },
      { header: "EVENT", value: (h) => h.event },
      { header: "TRANSITION", value: (h) => `${h.from ?? "(start)"} -> ${h.to}` },
      { header: "COMMANDS", value: (h) => h.commands.map((c) => c.type).join(", ") || "-" },
      { header: "CAUSED BY", value: (h) => h.causationId ?? "-" }
    ])
  )
  return lines.join("\n")
}
