import { uniqueName } from "@conveyor/testing/vitest"
import { defineTopology, mergeTopologies } from "@conveyor/topology"
import { Effect } from "effect"
import { deadLetterTopology, type DeadLetterStreamOptions, ensureTopology, listDeadLetters } from "../src/index.js"
import type { openClient } from "./support.js"

type Conn = Awaited<ReturnType<typeof openClient>>

const utf8 = new TextEncoder()

/** A stream with one durable and a dead-letter stream of its own, all uniquely named. */
export const setupRuntime = async (conn: Conn, consumer: { ackWaitMs?: number; maxDeliver?: number } = {}) => {
  const stream = uniqueName("RT")
  const prefix = stream.toLowerCase()
  const deadLetters: DeadLetterStreamOptions = { stream: `${stream}_DLQ`, subjectPrefix: `${prefix}-dlq` }
  const topology = mergeTopologies(
    defineTopology({
      streams: [{ name: stream, subjects: [`${prefix}.>`], storage: "memory" }],
      consumers: [{ stream, durable: "worker", filterSubjects: [`${prefix}.>`], ackWaitMs: consumer.ackWaitMs ?? 5_000, maxDeliver: consumer.maxDeliver ?? -1 }]
    }),
    deadLetterTopology(deadLetters)
  )
  await conn.runtime.runPromise(ensureTopology(topology))
  const publishRaw = async (subject: string, payload: Uint8Array | string | object, options: { msgId?: string; headers?: Record<string, string> } = {}) => {
    const { toMsgHdrs } = await import("../src/internal/headers.js")
    const data = payload instanceof Uint8Array ? payload : utf8.encode(typeof payload === "string" ? payload : JSON.stringify(payload))
    const hdrs = toMsgHdrs(options.headers)
    return conn.client.js.publish(subject, data, { ...(options.msgId !== undefined ? { msgID: options.msgId } : {}), ...(hdrs !== undefined ? { headers: hdrs } : {}) })
  }
  const letters = () => conn.runtime.runPromise(listDeadLetters(conn.client, {}, { deadLetters }))
  const consumerInfo = () => conn.client.jsm.consumers.info(stream, "worker")
  return { stream, prefix, deadLetters, topology, consumer: topology.consumers[0]!, publishRaw, letters, consumerInfo }
}

export const runEffect = <A, E>(conn: Conn, effect: Effect.Effect<A, E, never>) => conn.runtime.runPromise(effect)
