// The server configs parse with a real nats-server (`-t`), the one the tests run on (the tested
// line, as the deployment pins; tools/prereqs/nats-server.mjs).
import { natsUsers } from "@conveyor/auth"
import { freePort } from "@conveyor/testing"
import { spawn, spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { deployDir } from "./render.js"

const dir = mkdtempSync(join(tmpdir(), "conveyor-nats-conf-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
copyFileSync(join(deployDir, "base", "nats", "auth.conf"), join(dir, "auth.conf"))

const env: NodeJS.ProcessEnv = {
  ...process.env,
  POD_NAME: "nats-0",
  ...Object.fromEntries(natsUsers().map((u) => [u.passwordHashEnv, '"a password"']))
}
const check = (file: string, environment: NodeJS.ProcessEnv = env) => {
  const run = spawnSync(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["-t", "-c", file], { env: environment, encoding: "utf8" })
  if (run.error !== undefined) throw run.error
  return { ok: run.status === 0, out: `${run.stdout}${run.stderr}` }
}

describe("nats-server configuration", () => {
  it("single node (dev overlay, docker compose) is valid", () => {
    copyFileSync(join(deployDir, "base", "nats", "nats.conf"), join(dir, "nats.conf"))
    const result = check(join(dir, "nats.conf"))
    expect(result.out).toMatch(/valid/)
    expect(result.ok).toBe(true)
  })

  it("cluster (prod overlay) is valid, fsync on every write included", () => {
    const conf = readFileSync(join(deployDir, "overlays", "prod", "nats", "nats.conf"), "utf8")
    expect(conf).toMatch(/^\s*sync_interval: always$/m)
    // Clients are not told the pods' own addresses.
    expect(conf).toMatch(/^\s*no_advertise: true$/m)
    writeFileSync(join(dir, "cluster.conf"), conf)
    const result = check(join(dir, "cluster.conf"))
    expect(result.out).toMatch(/valid/)
    expect(result.ok).toBe(true)
  })

  it("refuses to start when a user's password variable is missing", () => {
    copyFileSync(join(deployDir, "base", "nats", "nats.conf"), join(dir, "nats.conf"))
    const without = { ...env }
    delete without["NATS_BCRYPT_GATEWAY"]
    const result = check(join(dir, "nats.conf"), without)
    expect(result.ok).toBe(false)
    expect(result.out).toContain("NATS_BCRYPT_GATEWAY")
  })

  it.each([
    // What the StatefulSet's preStop hook runs (with this test's pid file).
    ["the preStop hook's `--signal ldm`", "ldm"],
    // compose's stop_signal: what `--signal ldm` sends.
    ["compose's stop_signal SIGUSR2", "SIGUSR2"]
  ] as const)("enters lame-duck mode on %s", async (_, how) => {
    // The single-node config with test paths and ports. (The server then leaves by itself after
    // lame_duck_duration, at least 30 s: not waited for here.)
    const [port, http] = [await freePort(), await freePort()]
    const conf = readFileSync(join(deployDir, "base", "nats", "nats.conf"), "utf8")
      .replace(/^listen: .*$/m, `listen: 127.0.0.1:${port}`)
      .replace(/^http: .*$/m, `http: 127.0.0.1:${http}`)
      .replace(/^pid_file: .*$/m, `pid_file: "${join(dir, "nats.pid")}"`)
      .replace(/store_dir: .*$/m, `store_dir: "${join(dir, "store")}"`)
    expect(conf).toContain(`pid_file: "${join(dir, "nats.pid")}"`)
    writeFileSync(join(dir, `${how}.conf`), conf)
    const server = spawn(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["-c", join(dir, `${how}.conf`)], { env, stdio: ["ignore", "pipe", "pipe"] })
    let log = ""
    server.stderr.on("data", (c: Buffer) => (log += c.toString()))
    try {
      const deadline = Date.now() + 15_000
      while (!log.includes("Server is ready") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(log).toContain("Server is ready")
      if (how === "ldm") {
        const signal = spawnSync(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["--signal", `ldm=${join(dir, "nats.pid")}`], { encoding: "utf8" })
        expect(signal.status, signal.stderr).toBe(0)
      } else {
        expect(server.kill("SIGUSR2")).toBe(true)
      }
      const until = Date.now() + 15_000
      while (!/lame duck mode/i.test(log) && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      expect(log).toMatch(/entering lame duck mode/i)
    } finally {
      if (server.exitCode === null) server.kill("SIGKILL")
    }
  }, 40_000)
})
