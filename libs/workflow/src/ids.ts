/**
 * Deterministic ids. A transition is numbered per instance, so re-running it after a crash (same
 * instance revision, same event) yields the same ids, and JetStream's `Nats-Msg-Id` de-duplication
 * drops what was already published. Never derive them from a clock or a random source.
 */
/**
 * Id of the `index`-th message of a transition: its commands first, then its events. (Named before
 * the two were told apart; the ids of stored instances and published messages depend on it.)
 */
export const commandId = (workflowId: string, transition: number, index: number): string =>
  `${workflowId}:${transition}:${index}`

/** Distinct from every command id (those end in a number), so both can share one de-dup window. */
export const timerId = (workflowId: string, transition: number, name: string): string =>
  `${workflowId}:${transition}:timer:${name}`

/**
 * Message id of a timer's firing event. A timer id is re-armed with a new due time when its
 * transition is applied again (the instance was never stored the first time, and the redelivered
 * event recreates it): the due time in the id keeps the stream from dropping the new firing as a
 * duplicate of the old one, while two orchestrators firing the same stored timer still collide.
 */
export const firingId = (timer: { readonly timerId: string; readonly dueAt: number }): string => `${timer.timerId}@${timer.dueAt}`
