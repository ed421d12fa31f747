#!/usr/bin/env node
// The `conveyor` command. Runs the built JavaScript (apps/ctl/dist, `npx nx run ctl:build`; `npm run
// conveyor` builds it when stale) when it is newer than every source it was built from: that starts
// in a fraction of the time. Else it runs the TypeScript sources in a second Node process, because
// the libraries resolve to their sources only under the "@conveyor/source" condition, which is a
// start-up flag.
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { constants } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { built, ctl, isFresh } from "./built.mjs"

if (isFresh()) {
  await import(pathToFileURL(built).href)
} else {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
  const child = spawn(process.execPath, ["--conditions=@conveyor/source", "--import", tsx, join(ctl, "src", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" })
  // The terminal sends Ctrl-C to both processes; the child decides how to stop, this one just waits.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
}
