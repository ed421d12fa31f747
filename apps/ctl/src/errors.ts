import type { ConnectionFailed, ConnectionLost, ProvisioningFailed, TopologyDrift, UnsupportedServer } from "@conveyor/nats"
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream"
import { AuthorizationError, ClosedConnectionError, NoRespondersError, PermissionViolationError, TimeoutError } from "@nats-io/transport-node"
import { Data } from "effect"

/** Exit codes, documented in README.md: scripts and alert rules branch on them. */
export const ExitCode = {
  ok: 0,
  /** Anything unexpected: a server error, a bug. */
  failure: 1,
  /** Bad arguments or configuration (flags, NATS_* variables, a missing file). */
  usage: 2,
  /** The server could not be reached (refused, timed out, JetStream not enabled). */
  unreachable: 3,
  /** The server refused our credentials, or a permission. */
  auth: 4,
  /** An unknown stream, consumer, bucket, workflow instance or dead letter. */
  notFound: 5,
  /** A check failed: lag above `--fail-on-lag`, changes found by `topology diff --fail-on-change`. */
  checkFailed: 6,
  /** `topology apply` left fields only an operator can change (storage, retention, filter). */
  drift: 7,
  /** Declined: `purge` without `--yes` in a non-interactive shell, or answered "no". */
  refused: 8,
  /** `dlq replay` republished some but not all of the selected dead letters. */
  partial: 9
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Every failure a command reports: one line for stderr and the process exit code. */
export class CtlError extends Data.TaggedError("CtlError")<{ readonly message: string; readonly exitCode: ExitCode }> {}

export const ctlError = (exitCode: ExitCode, message: string) => new CtlError({ exitCode, message })

/** Refused credentials and an unreachable server have their own exit codes. */
export const fromConnectionFailed = (e: ConnectionFailed): CtlError =>
  e.reason === "refused"
    ? ctlError(ExitCode.auth, `authentication failed at ${e.url}: ${e.cause}`)
    : ctlError(ExitCode.unreachable, `cannot reach NATS at ${e.url}: ${e.cause}`)

const notFoundCodes: ReadonlyArray<number> = [JetStreamApiCodes.StreamNotFound, JetStreamApiCodes.ConsumerNotFound, JetStreamApiCodes.NoMessageFound]

export const isNotFound = (e: unknown): boolean => e instanceof JetStreamApiError && notFoundCodes.includes(e.code)

/** `e` or its cause (nats.js wraps a request's failure in a RequestError) is one of `classes`. */
const isA = (e: unknown, ...classes: ReadonlyArray<abstract new (...args: never) => Error>): boolean =>
  classes.some((c) => e instanceof c || (e instanceof Error && e.cause instanceof c))

/** Maps a failed JetStream API call; `what` names the resource, e.g. "stream ORDERS". */
export const fromApiError = (what: string) => (e: unknown): CtlError => {
  if (isNotFound(e)) return ctlError(ExitCode.notFound, `unknown ${what}`)
  const text = e instanceof Error ? e.message : String(e)
  if (isA(e, PermissionViolationError, AuthorizationError)) return ctlError(ExitCode.auth, `not allowed to read ${what}: ${text}`)
  if (isA(e, TimeoutError, NoRespondersError, ClosedConnectionError)) return ctlError(ExitCode.unreachable, `no answer about ${what}: ${text}`)
  return ctlError(ExitCode.failure, `${what}: ${text}`)
}

/** The errors of the libraries a command uses, mapped once, at the edge. */
export const fromLibraryError = (e: ConnectionFailed | ConnectionLost | ProvisioningFailed | TopologyDrift | UnsupportedServer | CtlError): CtlError => {
  switch (e._tag) {
    case "CtlError": return e
    case "ConnectionFailed": return fromConnectionFailed(e)
    case "ConnectionLost": return ctlError(ExitCode.unreachable, e.message)
    case "UnsupportedServer": return ctlError(ExitCode.failure, e.message)
    case "TopologyDrift": return ctlError(ExitCode.drift, e.message)
    case "ProvisioningFailed": return ctlError(/permission|authori[sz]ation/i.test(e.cause) ? ExitCode.auth : ExitCode.failure, e.message)
  }
}
