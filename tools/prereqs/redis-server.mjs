// redis-server for the bench's BullMQ chain (and the bench's quick test): apt-get as root on
// Debian/Ubuntu, else a clear message. REDIS_SERVER_BIN names another binary.
import { spawnSync } from "node:child_process"

const has = (cmd, args = ["--version"]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"] })
  if (r.status !== 0) throw new Error(`[setup] ${cmd} ${args.join(" ")} failed (exit ${r.status})`)
}

export const ensureRedisServer = () => {
  const binary = process.env.REDIS_SERVER_BIN ?? "redis-server"
  if (!has(binary)) {
    if (process.getuid?.() !== 0 || !has("apt-get")) {
      throw new Error(
        "redis-server is not installed (the bench compares with BullMQ on Redis): `sudo apt-get install -y redis-server`, or set REDIS_SERVER_BIN."
      )
    }
    console.error("[setup] installing redis-server with apt-get (the bench compares with BullMQ on Redis)...")
    run("apt-get", ["update", "-qq"])
    run("apt-get", ["install", "-y", "-qq", "redis-server"])
  }
  return {}
}
