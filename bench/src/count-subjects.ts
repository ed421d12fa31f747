// Profiling aid: what the order workflow sends to NATS, by subject kind, per order.
//   node bench/dist/count-subjects.js 1000
import { LocalNatsProcess } from "@conveyor/testing"
import { closedLoop } from "./chain.js"
import { natsInMessages, selfCpuMs, subjectsTarget } from "./target.js"
import { rawClient } from "./harness.js"
import { conveyorStack } from "./workflow.js"

const count = Number(process.argv[2] ?? "1000")
const server = await LocalNatsProcess.start()
const raw = await rawClient(server.url)
const spy = await rawClient(server.url)
const target = subjectsTarget(raw, await conveyorStack(server.url), { cpuMs: selfCpuMs, brokerOps: natsInMessages(server.monitorPort), brokerCpuMs: () => 0 })
await closedLoop(raw, target, 100, 64)
const kinds = new Map<string, number>()
const kindOf = (s: string) =>
  s.startsWith("$JS.ACK.") ? `ack ${s.split(".")[2]}/${s.split(".")[3]}`
  : s.startsWith("$JS.API.CONSUMER.MSG.NEXT.") ? `pull ${s.split(".").slice(5).join(".")}`
  : s.startsWith("$KV.") ? `kv ${s.split(".")[1]}`
  : s.startsWith("$JS.EVENT.") ? s.split(".").slice(0, 6).join(".")
  : s.startsWith("_INBOX.") || s.startsWith("$JS.") ? s.split(".").slice(0, 2).join(".")
  : s.split(".").slice(0, 3).join(".")
const sub = spy.nc.subscribe(">", {
  callback: (_e, m) => {
    const kind = kindOf(m.subject)
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
  }
})
await spy.nc.flush()
const r = await closedLoop(raw, target, count, 64)
await spy.nc.flush()
sub.unsubscribe()
console.log(`${count} orders, ${r.ordersPerSecond.toFixed(0)}/s, ${r.brokerOpsPerOrder.toFixed(1)} messages sent per order (connz in_msgs, incl. this spy's none)`)
for (const [k, v] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`${(v / count).toFixed(2).padStart(7)}  ${k}`)
await target.close()
await raw.nc.close()
await spy.nc.close()
await server.stop()
process.exit(0)
