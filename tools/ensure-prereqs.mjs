// Installs what the demo and the tests need on a fresh machine, then gets out of the way:
// Node dependencies (npm ci when node_modules is missing or older than the lock file) and a
// nats-server binary (apt-get when running as root on Debian/Ubuntu, else a clear message); with
// `--redis` (the bench and its test, which compare with BullMQ) also redis-server.
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`)
}
const has = (cmd, args = ["--version"]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0

const [major] = process.versions.node.split(".").map(Number)
if (major < 20) {
  console.error(`Conveyor needs Node.js 20 or newer; this is ${process.version}.`)
  process.exit(1)
}

const marker = join(root, "node_modules", ".package-lock.json")
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(join(root, "package-lock.json")).mtimeMs) {
  console.error("[setup] installing Node dependencies (npm ci)...")
  run("npm", ["ci", "--no-audit", "--no-fund"])
}

const needsServer = !process.env.NATS_URL
const binary = process.env.NATS_SERVER_BIN ?? "nats-server"
if (needsServer && !has(binary)) {
  const isRoot = process.getuid?.() === 0
  if (isRoot && has("apt-get", ["--version"])) {
    console.error("[setup] installing nats-server with apt-get...")
    run("apt-get", ["update", "-qq"])
    run("apt-get", ["install", "-y", "-qq", "nats-server"])
  } else if (!existsSync("/var/run/docker.sock") && !process.env.DOCKER_HOST) {
    console.error(
      "nats-server is not installed and no Docker engine is reachable.\n" +
        "Install one of: `sudo apt-get install -y nats-server`, `brew install nats-server`,\n" +
        "a release binary from https://github.com/nats-io/nats-server/releases (set NATS_SERVER_BIN),\n" +
        "or point NATS_URL at a running server started with -js."
    )
    process.exit(1)
  }
}
if (needsServer && has(binary)) {
  console.error(`[setup] ${execFileSync(binary, ["--version"]).toString().trim()}`)
}

/** redis-server for the bench's BullMQ chain: apt-get as root on Debian/Ubuntu, else a clear message. */
const ensureRedisServer = () => {
  const binary = process.env.REDIS_SERVER_BIN ?? "redis-server"
  if (!has(binary)) {
    if (process.getuid?.() === 0 && has("apt-get", ["--version"])) {
      console.error("[setup] installing redis-server with apt-get (the bench compares with BullMQ on Redis)...")
      run("apt-get", ["update", "-qq"])
      run("apt-get", ["install", "-y", "-qq", "redis-server"])
    } else {
      console.error("redis-server is not installed (the bench compares with BullMQ on Redis): `sudo apt-get install -y redis-server`, or set REDIS_SERVER_BIN.")
      process.exit(1)
    }
  }
  console.error(`[setup] ${execFileSync(binary, ["--version"]).toString().trim()}`)
}
if (process.argv.includes("--redis")) ensureRedisServer()
