import { appNodeOptions } from "@conveyor/domain"
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { jsonPayload, rawFill, type RawClient } from "./harness.js"
import { row, type Row } from "./report.js"
import { summarize } from "./stats.js"

const STREAM = "BENCH_BACKLOG"
// Run as built (bench/dist, what `npm run bench` does) the children run built JavaScript like the
// deployed apps; run from the sources (the quick test) they go through tsx.
const compiled = import.meta.url.endsWith(".js")
const drainScript = (side: "raw" | "conveyor") => fileURLToPath(new URL(`./drain-${side}.${compiled ? "js" : "ts"}`, import.meta.url))
const loader = compiled ? [] : ["--conditions=@conveyor/source", "--import", "tsx"]


interface Drained {
  readonly peakRssMb: number
  readonly rate: number
}

/** Runs the drain child to completion; kills it by its pid if it outlives `timeoutMs`. */
const drain = (side: "raw" | "conveyor", url: string, durable: string, count: number, concurrency: number, timeoutMs: number): Promise<Drained> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...appNodeOptions, ...loader, drainScript(side), side, url, STREAM, durable, String(count), String(concurrency)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4_000)))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      const line = out.trim().split("\n").at(-1)
      if (code === 0 && line !== undefined) resolve(JSON.parse(line) as Drained)
      else reject(new Error(`drain child (${side}) exited with ${code}:\n${err}`))
    })
  })

/**
 * Peak RSS of a process draining a backlog of `backlog` messages (256 B), Conveyor's runner with
 * the app defaults (confirmed acks) against a raw consume + ack loop, each in a fresh child process
 * sampling its own RSS every 50 ms, with the heap cap the apps are deployed with. The backlog is published once; each drain is a new durable.
 */
export const benchRss = async (
  url: string,
  raw: RawClient,
  s: { readonly backlog: number; readonly runs: number; readonly concurrency: number },
  log: (line: string) => void
): Promise<Row[]> => {
  await raw.jsm.streams.add({ name: STREAM, subjects: ["bench.backlog.>"], storage: "file" as never })
  const results = { conveyor: [] as Drained[], raw: [] as Drained[] }
  try {
    await rawFill(raw.js, (i) => `bench.backlog.${i % 16}`, (i) => jsonPayload(i, 256), s.backlog)
    log(`backlog of ${s.backlog} published`)
    let n = 0
    for (let run = 0; run < s.runs; run++) {
      for (const side of run % 2 === 0 ? (["conveyor", "raw"] as const) : (["raw", "conveyor"] as const)) {
        const durable = `drain${++n}`
        await raw.jsm.consumers.add(STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 1_000 })
        const result = await drain(side, url, durable, s.backlog, s.concurrency, Math.max(120_000, s.backlog * 2))
        log(`${side} drained at ${Math.round(result.rate)} msg/s, peak RSS ${result.peakRssMb.toFixed(0)} MB`)
        results[side].push(result)
        await raw.jsm.consumers.delete(STREAM, durable).catch(() => undefined)
      }
    }
  } finally {
    await raw.jsm.streams.delete(STREAM).catch(() => undefined)
  }
  const conveyor = summarize(results.conveyor.map((r) => r.peakRssMb))
  return [
    row({
      id: "rss-backlog",
      figure: `peak RSS while a ${s.backlog.toLocaleString("en-US")}-message backlog drains (runner: app defaults, confirmed acks; both: ${appNodeOptions.join(" ")} as deployed${compiled ? "" : ", run through tsx"})`,
      unit: "MB",
      conveyor,
      raw: summarize(results.raw.map((r) => r.peakRssMb)),
      target: { text: "< 300 MB", met: conveyor.max < 300 }
    }),
    row({
      id: "rss-backlog-rate",
      figure: "drain rate of that backlog (runner: confirmed acks; raw: plain acks)",
      unit: "msg/s",
      conveyor: summarize(results.conveyor.map((r) => r.rate)),
      raw: summarize(results.raw.map((r) => r.rate))
    })
  ]
}
