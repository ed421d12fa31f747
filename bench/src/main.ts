// `npm run bench [-- --quick] [--runs N] [--backlog N] [--only publish,consume,workflow,chain,rss,durability] [--orders N] [--in-flight N] [--no-processes] [--json file]`
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { formatTable } from "./report.js"
import { defaultSettings, runBench, SECTIONS, type Section } from "./run.js"

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
