import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { serveOrderIngress } from "./order-ingress.js"

// The raw nats.js chain's parts, shared by the one-process stack (rawStack) and the chain section's
// processes (chain-process.ts), so both run the same loop.

const RAW_STREAM = "RAWFLOW"
/** The order workflow's consumer hops: orchestrator and worker alternating, 4 steps of 2. */
export const RAW_HOPS = 8
export const rawSubject = (hop: number) => `rawflow.h${hop}`
/** Where the last hop publishes: an order on it has finished. */
export const rawFinishedSubject = rawSubject(RAW_HOPS)

/** The chain's stream and one durable per hop; every process running a hop shares its durable (competing consumers). */
export const ensureRawChain = async (jsm: JetStreamManager, replicas = 1): Promise<void> => {
  await jsm.streams.add({ name: RAW_STREAM, subjects: ["rawflow.>"], storage: "file" as never, num_replicas: replicas })
  for (let hop = 0; hop < RAW_HOPS; hop++) {
    await jsm.consumers.add(RAW_STREAM, { durable_name: `hop${hop}`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: rawSubject(hop) })
  }
}

export const deleteRawChain = (jsm: JetStreamManager): Promise<unknown> => jsm.streams.delete(RAW_STREAM).catch(() => undefined)

/**
 * One hop: each message of durable `hop<hop>` decoded, published on to the next subject, and
 * acked once the PubAck came (as the orchestrator and workers publish before they ack).
 */
export const runRawHop = async (js: JetStreamClient, hop: number): Promise<{ readonly stop: () => void }> => {
  const messages = await (await js.consumers.get(RAW_STREAM, `hop${hop}`)).consume({ max_messages: 32 })
  void (async () => {
    for await (const m of messages) {
      JSON.parse(new TextDecoder().decode(m.data))
      js.publish(rawSubject(hop + 1), m.data, { msgID: `${m.info.streamSequence}-${hop}` }).then(
        () => m.ack(),
        () => m.nak(200)
      )
    }
  })()
  return messages
}

/** `POST /orders` publishing the order to the first hop. */
export const serveRawIngress = (js: JetStreamClient) =>
  serveOrderIngress((body, order) => js.publish(rawSubject(0), body, { msgID: `placed:${order.orderId}` }))
