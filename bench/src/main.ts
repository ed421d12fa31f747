// `npm run bench [-- --quick] [--runs N] [--backlog N] [--only publish,consume,workflow,chain,rss,durability] [--orders N] [--in-flight N] [--no-processes] [--json file]`
import { youngGenerationOption } from "@conveyor/domain"
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { formatTable } from "./report.js"
import { defaultSettings, runBench, SECTIONS, type Section } from "./run.js"

// This process runs the one-process rows (every Conveyor app, BullMQ's workers): with the young
// generation the apps are deployed with (appNodeOptions; the old-generation cap is per app, and
// this process holds more than one). Started without it, it runs itself again with it.
if (!process.execArgv.includes(youngGenerationOption) && !(process.env.NODE_OPTIONS ?? "").includes(youngGenerationOption)) {
  const child = spawnSync(process.execPath, [youngGenerationOption, ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" })
  process.exit(child.status ?? 1)
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    messages: { type: "string" },
    backlog: { type: "string" },
    orders: { type: "string" },
    "in-flight": { type: "string" },
    "no-processes": { type: "boolean", default: false },
    only: { type: "string" },
    json: { type: "string" }
  }
})

const base = defaultSettings(values.quick === true)
const int = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Math.max(1, Number.parseInt(v, 10)))
const sections = values.only === undefined ? base.sections : (values.only.split(",").filter((x): x is Section => (SECTIONS as ReadonlyArray<string>).includes(x)))
const settings = {
  ...base,
  runs: int(values.runs, base.runs),
  publishMessages: int(values.messages, base.publishMessages),
  consumeMessages: int(values.messages, base.consumeMessages),
  backlog: int(values.backlog, base.backlog),
  chainOrders: int(values.orders, base.chainOrders),
  chainInFlight: int(values["in-flight"], base.chainInFlight),
  chainProcesses: base.chainProcesses && values["no-processes"] !== true,
  sections
}

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`
const report = await runBench(settings, command)
const table = formatTable(report)
console.log(`\n${command}  (${report.startedAt})\n\n${table}\n`)
const unmet = report.rows.filter((r) => r.target !== undefined && !r.target.met).length
console.log(unmet === 0 ? "every target met" : `${unmet} target(s) not met`)
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(report, null, 2))
process.exit(0)
