import type { BucketSpec, ConsumerSpec, StreamSpec } from "./spec.js"

/** One field whose declared value differs from the server's. */
export interface FieldChange {
  readonly field: string
  readonly declared: unknown
  readonly actual: unknown
}

/**
 * What `ensure` does with one resource: create it, update the mutable fields, or nothing. Fields
 * the server cannot change in place (storage, retention, a consumer's deliver policy) are drift: an
 * operator must decide, since fixing them means deleting data. A consumer's filter subjects change
 * in place (nats-server 2.10+), keeping its position in the stream.
 */
export type ResourcePlan =
  | { readonly _tag: "Create"; readonly kind: ResourceKind; readonly name: string }
  | { readonly _tag: "Update"; readonly kind: ResourceKind; readonly name: string; readonly changes: ReadonlyArray<FieldChange> }
  | { readonly _tag: "InSync"; readonly kind: ResourceKind; readonly name: string }

export type ResourceKind = "stream" | "consumer" | "bucket"

export interface ResourceDiff {
  readonly plan: ResourcePlan
  readonly drift: ReadonlyArray<FieldChange>
}

const sameValue = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b)
    ? a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i])
    : a === b

const compare = <T extends object>(
  declared: T,
  actual: T,
  fields: ReadonlyArray<keyof T & string>
): Array<FieldChange> =>
  fields
    .filter((f) => !sameValue(declared[f], actual[f]))
    .map((field) => ({ field, declared: declared[field], actual: actual[field] }))

const diffWith = <T extends object>(
  kind: ResourceKind,
  name: string,
  declared: T,
  actual: T | undefined,
  mutable: ReadonlyArray<keyof T & string>,
  immutable: ReadonlyArray<keyof T & string>
): ResourceDiff => {
  if (actual === undefined) return { plan: { _tag: "Create", kind, name }, drift: [] }
  const changes = compare(declared, actual, mutable)
  const drift = compare(declared, actual, immutable)
  return {
    plan: changes.length === 0 ? { _tag: "InSync", kind, name } : { _tag: "Update", kind, name, changes },
    drift
  }
}

export const diffStream = (declared: StreamSpec, actual: StreamSpec | undefined): ResourceDiff =>
  diffWith("stream", declared.name, declared, actual,
    ["subjects", "description", "replicas", "maxAgeMs", "maxBytes", "maxMsgs", "maxMsgSize", "duplicateWindowMs", "discard"],
    ["storage", "retention"])

export const diffConsumer = (declared: ConsumerSpec, actual: ConsumerSpec | undefined): ResourceDiff =>
  diffWith("consumer", `${declared.stream}/${declared.durable}`, declared, actual,
    ["description", "ackWaitMs", "maxDeliver", "maxAckPending", "filterSubjects", "replaySubject"],
    ["deliverPolicy"])

export const diffBucket = (declared: BucketSpec, actual: BucketSpec | undefined): ResourceDiff =>
  diffWith("bucket", declared.name, declared, actual,
    ["description", "ttlMs", "history", "replicas", "maxValueSize", "maxBytes"],
    ["storage"])
