import { Data } from "effect"

/**
 * A JetStream read that failed; `what` names the resource ("stream ORDERS"), `cause` is the client's
 * error as thrown, so each edge (the CLI's exit codes, the console's pages) classifies it its own way.
 */
export class OperatorReadError extends Data.TaggedError("OperatorReadError")<{ readonly what: string; readonly cause: unknown }> {
  override get message() {
    return `${this.what}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

export const readFailed = (what: string) => (cause: unknown) => new OperatorReadError({ what, cause })
