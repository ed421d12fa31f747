import { readWorkflow as read, type WorkflowView } from "@conveyor/console/reads/workflow"
import type { NatsConnection } from "@conveyor/nats/connection"
import { Effect } from "effect"
import { ctlError, type CtlError, ExitCode, fromApiError } from "../errors.js"
import { table } from "../format.js"

export { defaultWorkflowBucket, traceIdOf, type WorkflowView } from "@conveyor/console/reads/workflow"

export const readWorkflow = (id: string, bucket: string): Effect.Effect<WorkflowView, CtlError, NatsConnection> =>
  read(id, bucket).pipe(
    Effect.mapError((e) => (e._tag === "WorkflowNotFound" ? ctlError(ExitCode.notFound, e.message) : fromApiError(e.what)(e.cause)))
  )

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
    history: ReadonlyArray<{ seq: number; event: string; from?: string; to: string; at: number; causationId?: string; commands: ReadonlyArray<{ type: string }>; events?: ReadonlyArray<{ type: string }> }>
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
      // Absent from entries stored before the workflow's own events were told apart from its commands.
      { header: "EMITTED", value: (h) => (h.events ?? []).map((e) => e.type).join(", ") || "-" },
      { header: "CAUSED BY", value: (h) => h.causationId ?? "-" }
    ])
  )
  return lines.join("\n")
}
