// `npm run dev`: a local nats-server and every app as its own process on its own port, output
// prefixed by app name; Ctrl-C stops them all gracefully, then the server.
import { DEFAULT_CONSOLE_PORT } from "@conveyor/console"
import { eventually } from "@conveyor/testing"
import { spawn } from "node:child_process"
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

/** An offset that frees every port the dev command uses, so it can run beside anything else. */
const freeOffset = async () => {
  for (;;) {
    const offset = 20_000 + Math.floor(Math.random() * 20_000)
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

    // Every order app and the web console.
    const urls = [...Object.entries(defaultHttpPorts), ["console", DEFAULT_CONSOLE_PORT] as const].map(([app, port]) => [app, `http://127.0.0.1:${port + offset}`] as const)
    await eventually(
      async () => (await Promise.all(urls.map(([, url]) => fetch(`${url}/readyz`).then((r) => r.ok, () => false)))).every(Boolean),
      240_000,
      `every app to be ready\n${output.slice(-5_000)}`
    )
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
