// Profiling aid: one side of one figure, long enough for `node --cpu-prof` to see the hot spots.
//   node --cpu-prof --cpu-prof-dir=tmp/prof --conditions=@conveyor/source --import tsx bench/src/profile.ts runner 50000
// Sides: runner | runnerKv | runnerTraced | publish | raw | rawKv | rawTraced (any consume side of consume.ts);
// orchestrator (orchestrator-alone.ts: the order workflow alone, raw responders for the workers; count = orders);
// chain (chain.ts: every order app in this process, closed loop of 64; count = orders);
// floors (floors.ts): kvWrites (KV creates a second, nothing else) | spanCost (µs per OTel SDK span, no broker)
import { LocalNatsProcess } from "@conveyor/testing"
import { closedLoop } from "./chain.js"
import { natsInMessages, selfCpuMs, subjectsTarget } from "./target.js"
import { benchConsume } from "./consume.js"
import { otelSpanMicros, kvWriteRate } from "./floors.js"
import { conveyorRuntime, rawClient } from "./harness.js"
import { benchOrchestratorAlone } from "./orchestrator-alone.js"
import { benchPublish } from "./publish.js"
import { conveyorStack } from "./workflow.js"
import { startOtlpSink } from "./sink.js"

const [what = "runner", countText = "50000"] = process.argv.slice(2)
const server = await LocalNatsProcess.start()
const conveyor = conveyorRuntime(server.url)
const raw = await rawClient(server.url)
const sink = await startOtlpSink()
const count = Number(countText)
const consumeRows = () => benchConsume(conveyor, raw, sink, { messages: count, runs: 1, concurrency: 64, payloadBytes: 256, only: [what as never] })
try {
  if (what === "kvWrites") console.log("KV creates, 256 outstanding:", Math.round(await kvWriteRate(raw.nc, count)), "writes/s")
  else if (what === "spanCost") console.log("OTel SDK CONSUMER span, batched OTLP/JSON export:", (await otelSpanMicros(sink.url, count)).toFixed(2), "µs per span")
  else if (what === "chain") {
    const target = subjectsTarget(raw, await conveyorStack(server.url), { cpuMs: selfCpuMs, brokerOps: natsInMessages(server.monitorPort), brokerCpuMs: () => 0 })
    try {
      await closedLoop(raw, target, 200, 64)
      const r = await closedLoop(raw, target, count, 64)
      console.log(`chain: ${count} orders, ${r.ordersPerSecond.toFixed(1)} orders/s, p50 ${r.p50.toFixed(0)} ms, ${r.cpuMsPerOrder.toFixed(2)} CPU ms per order, ${r.brokerOpsPerOrder.toFixed(1)} NATS messages per order`)
    } finally {
      await target.close()
    }
  } else if (what === "orchestrator") {
    const r = await benchOrchestratorAlone(server.url, raw, count)
    console.log(`orchestrator alone: ${r.orders} orders, ${r.ordersPerSecond.toFixed(1)} orders/s, ${r.cpuMsPerOrder.toFixed(2)} CPU ms per order, orchestrator connection: ${r.sentPerOrder.toFixed(1)} messages sent, ${r.receivedPerOrder.toFixed(1)} received per order`)
  } else {
    const rows = what === "publish" ? await benchPublish(conveyor, raw, raw, { messages: count, window: 256, runs: 1, sizes: [256], only: ["conveyor"] }) : await consumeRows()
    for (const r of rows) {
      if (r.conveyor.runs.length > 0 || r.raw.runs.length > 0) console.log(r.id, "conveyor", Math.round(r.conveyor.median), "msg/s; raw", Math.round(r.raw.median), "msg/s")
    }
  }
} finally {
  await sink.stop()
  await conveyor.dispose()
  await raw.nc.close()
  await server.stop()
}
process.exit(0)
