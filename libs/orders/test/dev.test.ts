// `npm run dev`: a local nats-server and every app as its own process on its own port, output
// prefixed by app name; Ctrl-C stops them all gracefully, then the server.
import { DEFAULT_CONSOLE_PORT } from "@conveyor/console"
import { eventually } from "@conveyor/testing"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { defaultHttpPorts } from "../src/index.js"

const root = new URL("../../..", import.meta.url).pathname
let pgid: number | undefined
afterAll(() => {
  try {
    if (pgid !== undefined) process.kill(-pgid, "SIGKILL")
  } catch {
    // already gone
  }
})

const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer()
    srv.once("error", () => resolve(false))
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)))
  })

/**
 * Where the kernel picks ports for outgoing connections and for listeners on port 0 (every other
 * test's servers): a port in it that is free now can be taken by any of them before an app binds it.
 */
const ephemeralPortsFrom = (): number => {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
  } catch {
    return 32_768 // Linux's default; other systems start higher (49152)
  }
}

/**
 * An offset that frees every port the dev command uses, so it can run beside anything else: every
 * port below the ephemeral range, where only a fixed port asked for explicitly can collide.
 */
const freeOffset = async () => {
  const highest = Math.max(4222, 8222, DEFAULT_CONSOLE_PORT, ...Object.values(defaultHttpPorts))
  const room = ephemeralPortsFrom() - highest - 10_000
  for (;;) {
    const offset = 10_000 + Math.floor(Math.random() * Math.max(1, room))
    const ports = [4222, 8222, DEFAULT_CONSOLE_PORT, ...Object.values(defaultHttpPorts)].map((p) => p + offset)
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return offset
  }
}

describe("npm run dev", () => {
  it("starts nats-server and every app on its own port with prefixed output, and Ctrl-C stops them all", async () => {
    const offset = await freeOffset()
    const env: NodeJS.ProcessEnv = { ...process.env, DEV_PORT_OFFSET: String(offset), LOG_FORMAT: "json", OTEL_SDK_DISABLED: "true" }
    delete env["NATS_URL"]
    const child = spawn("npm", ["run", "dev"], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
    pgid = child.pid
    let output = ""
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))

    // dev says once when every app's /readyz passed. Waiting for that line or for dev to end (an
    // app that failed to start stops them all), whichever comes first: a start-up failure is
    // reported at once with its output, not after the whole wait. 240 s: on a loaded 2-core CI
    // machine eight Node processes start at once (dev and seven apps), each loading its modules.
    const ready = new Promise<"ready">((resolve) => {
      const look = () => output.includes("every app is ready") && resolve("ready")
      child.stdout!.on("data", look)
    })
    let waited: ReturnType<typeof setTimeout> | undefined
    const outcome = await Promise.race([
      ready,
      exited.then((code) => `exited with ${code}`),
      new Promise<string>((resolve) => (waited = setTimeout(() => resolve("was not ready within 240 s"), 240_000)))
    ])
    clearTimeout(waited)
    if (outcome !== "ready") expect.fail(`npm run dev ${outcome}; its output:\n${output.slice(-8_000)}`)

    // Every order app and the web console.
    const urls = [...Object.entries(defaultHttpPorts), ["console", DEFAULT_CONSOLE_PORT] as const].map(([app, port]) => [app, `http://127.0.0.1:${port + offset}`] as const)
    const readyz = await Promise.all(urls.map(async ([app, url]) => [app, await fetch(`${url}/readyz`).then((r) => r.status, (e: unknown) => String(e))] as const))
    expect(readyz).toEqual(urls.map(([app]) => [app, 200]))
    for (const [app] of urls) expect(output).toMatch(new RegExp(`^${app}\\s*\\| \\{"timestamp"`, "m"))
    expect(output).toMatch(new RegExp(`started nats-server on nats://127\\.0\\.0\\.1:${4222 + offset}`))

    process.kill(-child.pid!, "SIGINT") // what Ctrl-C does: the whole terminal job
    await exited
    await eventually(
      async () => (await Promise.all(urls.map(([, url]) => fetch(`${url}/healthz`).then(() => false, () => true)))).every(Boolean),
      30_000,
      "every app's port to be closed"
    )
    expect(output).toContain("every app stopped cleanly")
    for (const [app] of urls) {
      const stops = output.split("\n").filter((l) => l.startsWith(app) && l.includes("received: stopping gracefully"))
      expect(stops, `${app} saw one stop request`).toHaveLength(1)
    }
    expect(await isFree(4222 + offset)).toBe(true)
  }, 300_000)
})
