#!/usr/bin/env node
// `nx run <app>:serve`: runs the app's src/main.ts (TypeScript, through tsx's loader) as one child
// process and exits with its exit code. Run from the app's folder.
//
// Why a launcher: `npx nx run ...` is a chain of processes (npm exec, sh, nx, sh, this, the app).
// Ctrl-C and nx's own forwarding deliver one stop request several times; the app treats signals
// within a second as one (libs/nats runMain). But a SIGTERM to `npm exec` kills only npm and its
// shell: nx and the app would run on as orphans. So this launcher watches the processes of its own
// terminal job (tools/job.mjs) and stops the app once when one of them is gone.
import { spawn } from "node:child_process"
import { watchJob } from "./job.mjs"

// The app writes to this launcher, not to nx: on Ctrl-C nx silences its output and exits before
// the app has stopped, and an app writing into a closed pipe would die of EPIPE mid-way.
const app = spawn(process.execPath, ["--conditions=@conveyor/source", "--import", "tsx", "src/main.ts", ...process.argv.slice(2)], {
  stdio: ["inherit", "pipe", "pipe"],
  env: { ...process.env, LOG_FORMAT: process.env.LOG_FORMAT ?? (process.stdout.isTTY ? "pretty" : "json") }
})
for (const [from, to] of [[app.stdout, process.stdout], [app.stderr, process.stderr]]) {
  to.on("error", () => {}) // the reader is gone; the app goes on stopping regardless
  from.on("data", (chunk) => {
    if (!to.destroyed) to.write(chunk)
  })
}

let forwarded = false
const stopApp = (signal) => {
  if (forwarded || app.exitCode !== null || app.signalCode !== null) return
  forwarded = true
  app.kill(signal)
}
// The app usually gets the terminal's or nx's signal itself (same job); this covers a signal sent
// to the launcher alone. Either way the app sees one stop request.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stopApp(signal === "SIGHUP" ? "SIGTERM" : signal))

const unwatch = watchJob(() => stopApp("SIGTERM"))

app.on("exit", (code, signal) => {
  unwatch()
  process.exit(code ?? (signal === "SIGINT" ? 130 : 143))
})
