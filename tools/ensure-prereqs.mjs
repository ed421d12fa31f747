// Installs what the demo, the tests and the bench need on a fresh machine, then runs the command
// given after it (`node tools/ensure-prereqs.mjs nx run-many ...`) with the environment the
// installers chose (NATS_SERVER_BIN); without a command it prints that environment as `export`
// lines. Each prerequisite is its own module in tools/prereqs/ returning variables to set.
import { spawn, spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { ensureChromium } from "./prereqs/chromium.mjs"
import { ensureNatsServer } from "./prereqs/nats-server.mjs"
import { ensureRedisServer } from "./prereqs/redis-server.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

const [major] = process.versions.node.split(".").map(Number)
if (major < 20) {
  console.error(`Conveyor needs Node.js 20 or newer; this is ${process.version}.`)
  process.exit(1)
}

/** npm ci when node_modules is missing or older than the lock file. */
const ensureNodeModules = () => {
  const marker = join(root, "node_modules", ".package-lock.json")
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(root, "package-lock.json")).mtimeMs) return {}
  console.error("[setup] installing Node dependencies (npm ci)...")
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" })
  if (r.status !== 0) throw new Error(`npm ci failed (exit ${r.status})`)
  return {}
}

// Flags before the command: `--redis` also installs redis-server (the bench and its test compare
// with BullMQ), `--chromium` Debian's chromium (the console's browser tests).
const optional = { "--redis": ensureRedisServer, "--chromium": ensureChromium }
const rest = process.argv.slice(2)
const extras = []
while (rest[0] in optional) extras.push(optional[rest.shift()])
const [command, ...args] = rest

let env = {}
try {
  for (const ensure of [ensureNodeModules, ensureNatsServer, ...extras]) env = { ...env, ...ensure() }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}

if (command === undefined) {
  for (const [name, value] of Object.entries(env)) console.log(`export ${name}=${value}`)
} else {
  const child = spawn(command, args, { cwd: process.cwd(), stdio: "inherit", env: { ...process.env, ...env } })
  // The terminal signals the whole process group; the child decides how to stop, we wait for it.
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
  child.on("error", (error) => {
    console.error(`${command}: ${error.message}`)
    process.exit(127)
  })
  child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" ? 130 : 1)))
}
