// Debian's chromium for the console's browser tests (playwright-core drives it; Playwright's own
// browser download is never used): apt-get as root on Debian/Ubuntu, else a clear message.
// CHROMIUM_BIN names another binary.
import { existsSync } from "node:fs"
import { spawnSync } from "node:child_process"

const has = (cmd) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"] })
  if (r.status !== 0) throw new Error(`[setup] ${cmd} ${args.join(" ")} failed (exit ${r.status})`)
}

export const ensureChromium = () => {
  const binary = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium"
  if (!existsSync(binary)) {
    if (process.env.CHROMIUM_BIN !== undefined) throw new Error(`CHROMIUM_BIN=${binary}: no such file`)
    if (process.getuid?.() !== 0 || !has("apt-get")) {
      throw new Error("chromium is not installed (the console's browser tests drive it): `sudo apt-get install -y chromium`, or set CHROMIUM_BIN.")
    }
    console.error("[setup] installing chromium with apt-get (the console's browser tests drive it)...")
    run("apt-get", ["update", "-qq"])
    run("apt-get", ["install", "-y", "-qq", "chromium"])
  }
  return { CHROMIUM_BIN: binary }
}
