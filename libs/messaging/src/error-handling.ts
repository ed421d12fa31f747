/**
 * What a handler's failure means for the message. Every error a handler declares maps to one of
 * these, checked by the compiler: `ErrorHandlingMap<E>` has a required key per error tag.
 */
export type ErrorHandling =
  /** Redeliver after a backoff; dead-letter when attempts run out. */
  | "retry"
  /** Retrying cannot help (bad data, business rule): dead-letter now. */
  | "dead-letter"
  /** Not yet possible (waiting on another step): redeliver after this delay, without backoff growth. */
  | { readonly postponeMs: number }

type TagOf<E> = E extends { readonly _tag: infer T extends string } ? T : never

/** One entry per tag of the handler's error union; a missing or extra tag fails type-checking. */
export type ErrorHandlingMap<E> = {
  readonly [K in TagOf<E>]: ErrorHandling | ((error: Extract<E, { readonly _tag: K }>) => ErrorHandling)
}

/** Handlers fail only with tagged errors, so each can be named in the map. */
export type TaggedFailure = { readonly _tag: string }

export const errorHandlingOf = <E extends TaggedFailure>(map: ErrorHandlingMap<E>, error: E): ErrorHandling => {
  const entry = (map as Record<string, ErrorHandling | ((e: E) => ErrorHandling)>)[error._tag]
  // A tag missing at run time (an error the types did not declare) is treated as a defect: retry.
  if (entry === undefined) return "retry"
  return typeof entry === "function" ? entry(error) : entry
}
