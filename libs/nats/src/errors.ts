import { Data } from "effect"

/**
 * Start-up could not connect: the server was not reachable within the connect timeout, or it
 * refused the credentials (`reason: "refused"`, reported at the first attempt).
 */
export class ConnectionFailed extends Data.TaggedError("ConnectionFailed")<{
  readonly url: string
  readonly cause: string
  readonly attempts: number
  readonly reason: "unreachable" | "refused"
  readonly timeoutMs: number
}> {
  override get message() {
    return this.reason === "refused"
      ? `NATS at ${this.url} refused the credentials (NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS or the user in NATS_URL): ${this.cause}`
      : `cannot reach NATS at ${this.url} (NATS_URL) after ${this.attempts} attempt(s) in ${this.timeoutMs} ms (NATS_CONNECT_TIMEOUT): ${this.cause}`
  }
}

/** The server answered but is older than Conveyor supports (`MINIMUM_SERVER_VERSION`). */
export class UnsupportedServer extends Data.TaggedError("UnsupportedServer")<{
  readonly url: string
  readonly version: string
  readonly minimum: string
}> {
  override get message() {
    return `nats-server ${this.version} at ${this.url} is too old: Conveyor needs ${this.minimum} or newer (consumers with several filter subjects)`
  }
}

/** The connection closed without us closing it (reconnect attempts exhausted, auth revoked). */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly url: string; readonly cause: string }> {
  override get message() {
    return `NATS connection to ${this.url} was lost: ${this.cause}`
  }
}

/** The server's configuration differs from the declared one in ways `ensure` must not change. */
export class TopologyDrift extends Data.TaggedError("TopologyDrift")<{
  readonly resources: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly fields: ReadonlyArray<{ readonly field: string; readonly declared: unknown; readonly actual: unknown }> }>
}> {
  override get message() {
    return `topology drift: ${this.resources
      .map((r) => `${r.kind} ${r.name}: ${r.fields.map((f) => `${f.field} declared ${JSON.stringify(f.declared)} but is ${JSON.stringify(f.actual)}`).join(", ")}`)
      .join("; ")}`
  }
}

export class ProvisioningFailed extends Data.TaggedError("ProvisioningFailed")<{
  readonly kind: string
  readonly name: string
  readonly cause: string
}> {
  override get message() {
    return `could not provision ${this.kind} ${this.name}: ${this.cause}`
  }
}

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))
