// Where an order's broker round trips go: every order app in this process (as the chain section),
// a `>` subscription on a second connection counting what crosses the server by kind, and the
// socket writes of this process. Not part of `npm run bench`:
//   npx tsx --conditions=@conveyor/source bench/src/message-kinds.ts [orders=640] [in flight=64]
// A `>` subscriber also sees the server's own deliveries (a stream message delivered to a durable
// shows under its subject once more, a KV write consumed by the timer durable twice); replies to
// the apps (PubAcks, confirmations, reads) are counted apart.
import { LocalNatsProcess } from "@conveyor/testing"
import { connect } from "@nats-io/transport-node"
import net from "node:net"
import { conveyorStack } from "./workflow.js"

const [orders, inFlight] = [Number(process.argv[2] ?? 640), Number(process.argv[3] ?? 64)]
let writes = 0
let counting = false
const write = net.Socket.prototype.write
net.Socket.prototype.write = function (this: net.Socket, ...args: Array<unknown>) {
  if (counting) writes++
  return (write as (...a: Array<unknown>) => boolean).apply(this, args)
} as typeof write

const kind = (s: string): string => {
  if (s.startsWith("$JS.ACK.")) return `ack ${s.split(".")[3]}`
  if (s.startsWith("$KV.")) return `kv write ${s.split(".")[1]}`
  if (s.startsWith("$JS.API.DIRECT.GET.") || s.startsWith("$JS.API.STREAM.MSG.GET.")) return `kv read ${s.split(".").at(-1)}`
  if (s.startsWith("$JS.API.CONSUMER.MSG.NEXT")) return "pull"
  if (s.startsWith("$JS.API")) return `api ${s.split(".").slice(2, 4).join(".")}`
  if (s.startsWith("_INBOX")) return "reply to an app"
  return `publish ${s}`
}

const server = await LocalNatsProcess.start()
const stack = await conveyorStack(server.url)
const nc = await connect({ servers: server.url })
const counts = new Map<string, number>()
nc.subscribe(">", { callback: (_e, m) => void (counting && counts.set(kind(m.subject), (counts.get(kind(m.subject)) ?? 0) + 1)) })
const finished = new Set<string>()
const decoder = new TextDecoder()
nc.subscribe("orders.events.order-completed", { callback: (_e, m) => void finished.add((JSON.parse(decoder.decode(m.data)) as { orderId: string }).orderId) })
await nc.flush()
counting = true
let next = 0
await Promise.all(Array.from({ length: inFlight }, async () => {
  for (let i = next++; i < orders; i = next++) {
    const orderId = `kinds-${i}`
    const body = JSON.stringify({ orderId, customerId: "bench", items: [{ sku: `sku-${i % 64}`, quantity: 1, unitPriceCents: 100 }] })
    const response = await fetch(`${stack.base}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body })
    if (response.status !== 202) throw new Error(`POST /orders answered ${response.status}`)
    while (!finished.has(orderId)) await new Promise((r) => setTimeout(r, 5))
  }
}))
await new Promise((r) => setTimeout(r, 1_500)) // the notifier and the timer clean-up finish after OrderCompleted
counting = false
for (const [k, v] of [...counts].sort()) console.log((v / orders).toFixed(2).padStart(7), k)
console.log((writes / orders).toFixed(2).padStart(7), "socket writes of this process")
await nc.close()
await stack.close()
await server.stop()
process.exit(0)
