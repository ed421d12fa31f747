#!/usr/bin/env node
// Runs the CLI from its TypeScript sources: a second Node process, because the libraries resolve
// to their sources only under the "@conveyor/source" condition, which is a start-up flag.
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { constants } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const child = spawn(
  process.execPath,
  ["--conditions=@conveyor/source", "--import", tsx, join(here, "..", "src", "main.ts"), ...process.argv.slice(2)],
  { stdio: "inherit" }
)
// The terminal sends Ctrl-C to both processes; the child decides how to stop, this one just waits.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
