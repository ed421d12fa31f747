import { Context, Data, Effect } from "effect"
import type { OutgoingMessage } from "./outgoing.js"

/** A claim on a message id: proof that this delivery may run the side effect. */
export interface Claim {
  readonly key: string
  /** Opaque fencing token (a KV revision): completing with a stale one fails. */
  readonly token: number
}

export type ClaimResult =
  | { readonly _tag: "Claimed"; readonly claim: Claim }
  /** Done before: the stored outputs are re-published (their ids make that a no-op) and the message acked. */
  | { readonly _tag: "AlreadyDone"; readonly outputs: ReadonlyArray<OutgoingMessage> }
  /** Another delivery holds an unexpired lease. */
  | { readonly _tag: "HeldElsewhere"; readonly retryInMs: number }

export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{ readonly reason: string }> {}

/** The claim was taken over (our lease expired): this delivery must not commit. */
export class ClaimLost extends Data.TaggedError("ClaimLost")<{ readonly key: string }> {}

/**
 * Makes a handler's side effect happen once per message id. `complete` records the outputs the
 * handler produced, so a redelivery after a crash between commit and publish still publishes them.
 */
export interface IdempotencyStoreShape {
  readonly claim: (key: string, leaseMs: number) => Effect.Effect<ClaimResult, StoreUnavailable>
  readonly complete: (claim: Claim, outputs: ReadonlyArray<OutgoingMessage>) => Effect.Effect<void, StoreUnavailable | ClaimLost>
  /** Gives the id back after a failure so the next delivery need not wait for the lease. */
  readonly release: (claim: Claim) => Effect.Effect<void, StoreUnavailable>
  /** How long a completed record is kept; start-up checks it against the redelivery window. */
  readonly ttlMs: number
}

export class IdempotencyStore extends Context.Tag("@conveyor/messaging/IdempotencyStore")<
  IdempotencyStore,
  IdempotencyStoreShape
>() {}

type Entry =
  | { readonly state: "pending"; readonly token: number; readonly leaseUntil: number }
  | { readonly state: "done"; readonly outputs: ReadonlyArray<OutgoingMessage>; readonly expiresAt: number }

/**
 * In-process store for one process and for unit tests: bounded (oldest entries evicted first),
 * lost on restart. Production uses the KV store from `@conveyor/nats`.
 */
export const makeMemoryIdempotencyStore = (
  options: { readonly maxEntries?: number; readonly ttlMs?: number; readonly now?: () => number } = {}
): IdempotencyStoreShape => {
  const maxEntries = options.maxEntries ?? 100_000
  const ttlMs = options.ttlMs ?? 3_600_000
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()
  let tokens = 0
  const put = (key: string, entry: Entry) => {
    entries.delete(key)
    entries.set(key, entry)
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string)
  }
  return {
    ttlMs,
    claim: (key, leaseMs) =>
      Effect.sync((): ClaimResult => {
        const t = now()
        const current = entries.get(key)
        if (current?.state === "done" && current.expiresAt > t) return { _tag: "AlreadyDone", outputs: current.outputs }
        if (current?.state === "pending" && current.leaseUntil > t) {
          return { _tag: "HeldElsewhere", retryInMs: current.leaseUntil - t }
        }
        const token = ++tokens
        put(key, { state: "pending", token, leaseUntil: t + leaseMs })
        return { _tag: "Claimed", claim: { key, token } }
      }),
    complete: (claim, outputs) =>
      Effect.suspend(() => {
        const current = entries.get(claim.key)
        if (current?.state !== "pending" || current.token !== claim.token) return Effect.fail(new ClaimLost({ key: claim.key }))
        put(claim.key, { state: "done", outputs, expiresAt: now() + ttlMs })
        return Effect.void
      }),
    release: (claim) =>
      Effect.sync(() => {
        const current = entries.get(claim.key)
        if (current?.state === "pending" && current.token === claim.token) entries.delete(claim.key)
      })
  }
}
