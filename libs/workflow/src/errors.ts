import { Data } from "effect"

/**
 * An event the workflow cannot accept: not allowed in the current state, or arriving after the
 * instance became terminal. The runtime treats it as permanent (dead-letter), since redelivering
 * the same event to the same state can only fail the same way.
 */
export class IllegalTransition extends Data.TaggedError("IllegalTransition")<{
  readonly workflow: string
  readonly workflowId?: string
  /** The `_tag` of the state the event arrived in (or "(none)" when no instance exists). */
  readonly state: string
  /** The `type` of the rejected event. */
  readonly event: string
  readonly reason: string
}> {
  override get message(): string {
    const who = this.workflowId === undefined ? this.workflow : `${this.workflow} ${this.workflowId}`
    return `${who}: event ${this.event} is not allowed in state ${this.state}: ${this.reason}`
  }
}
