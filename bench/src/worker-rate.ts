// CPU per command of payments-worker process(es), compiled as deployed, at a fixed total command rate
// (CapturePayment published straight to its durable's stream), with the process count as the only change:
//   node bench/dist/worker-rate.js [rate=200] [seconds=15] [processes...=1 2]   (PROF=<dir>: --cpu-prof into dir)
import { CapturePayment, commandSubject, encodeCommand } from "@conveyor/domain"
import { LocalNatsProcess } from "@conveyor/testing"
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import { headers } from "@nats-io/transport-node"
import { readFileSync } from "node:fs"
import { pidCpuMs } from "./target.js"
import { rawClient } from "./harness.js"

const [rate = 200, seconds = 15, ...counts] = process.argv.slice(2).map(Number)
const switches = (pid: number) => [...readFileSync(`/proc/${pid}/status`, "utf8").matchAll(/ctxt_switches:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

const server = await LocalNatsProcess.start()
const raw = await rawClient(server.url)
let sent = 0
const send = () => {
  const command = CapturePayment.make({ orderId: `o${++sent}`, attempt: 1, customerId: "c", amountCents: 100 })
  const h = headers()
  h.set("Nats-Msg-Id", `capture-${sent}`)
  void raw.js.publish(commandSubject(command), encodeCommand(command), { headers: h })
}
/** `rate` commands a second for `secs`, then a second for the last ones to be handled. */
const paced = async (secs: number) => {
  const start = performance.now()
  for (let i = 0; i < rate * secs; i++) {
    await sleep(start + (i * 1000) / rate - performance.now())
    send()
  }
  await sleep(1000)
}
try {
  for (const count of counts.length > 0 ? counts : [1, 2]) {
    const prof = process.env["PROF"]
    const started: AppProcess[] = []
    for (let i = 0; i < count; i++) {
      const p = await startAppProcess("payments-worker", { NATS_URL: server.url }, [], { from: "build", nodeArgs: prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`] })
      started.push(p)
      await p.waitReady(60_000)
    }
    await paced(3)
    const cpu0 = started.map((p) => pidCpuMs(p.pid))
    const sw0 = started.map((p) => switches(p.pid))
    await paced(seconds)
    const total = rate * seconds
    const cpu = started.reduce((a, p, i) => a + pidCpuMs(p.pid) - cpu0[i]!, 0)
    const sw = started.reduce((a, p, i) => a + switches(p.pid) - sw0[i]!, 0)
    console.log(`${count} process(es), ${rate} commands/s: ${((cpu / total) * 1000).toFixed(0)} µs CPU and ${(sw / total).toFixed(2)} context switches per command`)
    await Promise.all(started.map((p) => p.stop("SIGTERM")))
  }
} finally {
  await raw.nc.close()
  await server.stop()
}
process.exit(0)
