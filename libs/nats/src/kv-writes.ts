import { headers, type MsgHdrs } from "@nats-io/transport-node"
import { Effect } from "effect"
import { JsPublishError, pubAckPipelineOf } from "./internal/pub-ack-pipeline.js"

export { isWrongLastSequence } from "./internal/jetstream-errors.js"

const expectingRevision = (previous: number, del: boolean): MsgHdrs => {
  const h = headers()
  h.set("Nats-Expected-Last-Subject-Sequence", String(previous))
  if (del) h.set("KV-Operation", "DEL")
  return h
}
// Headers are encoded when published and never changed after: one object serves every such write.
const mustNotExist = expectingRevision(0, false)
const deleteMarker = (() => {
  const h = headers()
  h.set("KV-Operation", "DEL")
  return h
})()

/** Headers of a KV write expecting the key's last revision to be `previous` (0: the key must not exist). */
export const expectingLastRevision = (previous: number, del = false): MsgHdrs => (previous === 0 && !del ? mustNotExist : expectingRevision(previous, del))

export interface KvWrites {
  /** Writes `value`; with `previous`, only if the key's last revision is `previous` (0: absent). Succeeds with the new revision. */
  readonly put: (key: string, value: Uint8Array, previous?: number) => Effect.Effect<number, JsPublishError>
  /** Leaves a delete marker (the key reads as absent); with `previous`, only at that revision. */
  readonly remove: (key: string, previous?: number) => Effect.Effect<number, JsPublishError>
}

/**
 * KV writes of one bucket as plain JetStream publishes on `$KV.<bucket>.<key>` through the
 * connection's PubAck pipeline: what `kv.put`/`kv.update`/`kv.delete` send, without a nats.js
 * request (timer, promise and a stack-captured Error) per write.
 */
export const kvWrites = (client: { readonly nc: Parameters<typeof pubAckPipelineOf>[0]["nc"]; readonly inboxPrefix: string }, bucket: string): KvWrites => {
  const pipeline = pubAckPipelineOf(client)
  const subjectOf = (key: string) => `$KV.${bucket}.${key}`
  const seq = (h: MsgHdrs | undefined, key: string, value: Uint8Array) => Effect.map(pipeline.publishEffect(subjectOf(key), value, h), (ack) => ack.seq)
  const empty = new Uint8Array(0)
  return {
    put: (key, value, previous) => seq(previous === undefined ? undefined : expectingLastRevision(previous), key, value),
    remove: (key, previous) => seq(previous === undefined ? deleteMarker : expectingLastRevision(previous, true), key, empty)
  }
}
