import { collectStatus as readStatus, type StatusOptions, type StatusReport } from "@conveyor/console/reads/status"
import type { NatsConnection } from "@conveyor/nats/connection"
import { Effect } from "effect"
import { ago, bytes, table } from "../format.js"
import { ctlError, type CtlError, ExitCode, fromApiError } from "../errors.js"

export type { ConsumerRow, StatusOptions, StatusReport, StreamRow } from "@conveyor/console/reads/status"
export { consumerRow, streamRow } from "@conveyor/console/reads/status"

/** One snapshot of every stream and its consumers, sorted by name (the library's, with the CLI's exit codes). */
export const collectStatus = (options: StatusOptions): Effect.Effect<StatusReport, CtlError, NatsConnection> =>
  readStatus(options).pipe(Effect.mapError((e) => fromApiError(e.what)(e.cause)))

export const renderStatus = (report: StatusReport): string => {
  const now = new Date(report.at)
  const streams = report.streams.length === 0
    ? "no streams"
    : table(report.streams, [
        { header: "STREAM", value: (s) => s.stream },
        { header: "MESSAGES", value: (s) => String(s.messages), align: "right" },
        { header: "BYTES", value: (s) => bytes(s.bytes), align: "right" },
        { header: "FIRST SEQ", value: (s) => String(s.firstSeq), align: "right" },
        { header: "LAST SEQ", value: (s) => String(s.lastSeq), align: "right" },
        { header: "CONSUMERS", value: (s) => String(s.consumers), align: "right" }
      ])
  const consumers = report.consumers.length === 0
    ? "no consumers"
    : table(report.consumers, [
        { header: "STREAM/CONSUMER", value: (c) => `${c.stream}/${c.consumer}` },
        { header: "PENDING", value: (c) => String(c.pending), align: "right" },
        { header: "ACK PENDING", value: (c) => String(c.ackPending), align: "right" },
        { header: "REDELIVERED", value: (c) => String(c.redelivered), align: "right" },
        { header: "WAITING PULLS", value: (c) => String(c.waiting), align: "right" },
        { header: "LAG", value: (c) => String(c.lag), align: "right" },
        { header: "LAST ACTIVE", value: (c) => ago(c.lastActive === null ? undefined : new Date(c.lastActive), now) }
      ])
  return `${streams}\n\n${consumers}`
}

/** The consumers whose lag is above `limit`, as the one-line failure `--fail-on-lag` reports. */
export const lagCheck = (report: StatusReport, limit: number): CtlError | undefined => {
  const over = report.consumers.filter((c) => c.lag > limit)
  if (over.length === 0) return undefined
  return ctlError(ExitCode.checkFailed, `lag above ${limit}: ${over.map((c) => `${c.stream}/${c.consumer} ${c.lag}`).join(", ")}`)
}
