// The apps as processes: `--help`, start-up errors as one line with a documented exit code, and a
// consumer that stops for good (the server gone past NATS_RECONNECT_FOR) failing /readyz and
// ending the process with exit 1.
import { startAppProcess } from "@conveyor/testing/app-process"
import { eventually, freePort, LocalNatsProcess } from "@conveyor/testing"
import { createServer } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: LocalNatsProcess
beforeAll(async () => {
  server = await LocalNatsProcess.start()
})
afterAll(async () => {
  await server?.stop()
})

/** The error lines of a JSON log (LOG_FORMAT=json: stdout is a pipe). */
const errorLines = (output: string) => output.split("\n").filter((l) => l.includes(`"level":"error"`))
const expectOneLine = (output: string, pattern: RegExp) => {
  const errors = errorLines(output)
  expect(errors, output).toHaveLength(1)
  expect(JSON.parse(errors[0]!).message).toMatch(pattern)
  expect(output, "no stack trace without LOG_LEVEL=debug").not.toMatch(/\n\s+at /)
}

describe.concurrent("app start-up", () => {
  it("--help prints the app's variables and exits 0 without starting", async () => {
    const app = await startAppProcess("payments-worker", { NATS_URL: "nats://127.0.0.1:1" }, ["--help"])
    expect(await app.exited).toBe(0)
    for (const name of ["NATS_URL", "NATS_CONNECT_TIMEOUT", "HTTP_PORT", "LOG_LEVEL", "LOG_FORMAT", "PAYMENTS_FAILURE_RATE", "HANDLER_TIMEOUT_MS"]) {
      expect(app.output()).toContain(name)
    }
    expect(app.output()).toContain("(default: 8083)")
    expect(app.output()).not.toMatch(/Listening|cannot reach/)
  }, 120_000)

  it("an invalid variable is one line naming it, exit 2, before anything connects", async () => {
    const app = await startAppProcess("gateway", { NATS_URL: "nats://127.0.0.1:1", HTTP_PORT: "abc", NATS_CONNECT_TIMEOUT: "60s" })
    expect(await app.exited).toBe(2)
    expectOneLine(app.output(), /^invalid configuration: HTTP_PORT: must be a TCP port/)
  }, 120_000)

  it("NATS_CONNECT_TIMEOUT takes milliseconds; an unreachable server is one line naming the URL, exit 3", async () => {
    const port = await freePort()
    const app = await startAppProcess("orchestrator", { NATS_URL: `nats://127.0.0.1:${port}`, NATS_CONNECT_TIMEOUT: "1500" })
    expect(await app.exited).toBe(3)
    expectOneLine(app.output(), new RegExp(`^cannot reach NATS at nats://127\\.0\\.0\\.1:${port} \\(NATS_URL\\) after \\d+ attempt\\(s\\) in 1500 ms \\(NATS_CONNECT_TIMEOUT\\)`))
  }, 120_000)

  it("an HTTP port in use is one line naming HTTP_PORT, exit 2", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const app = await startAppProcess("shipping-worker", { NATS_URL: server.url, HTTP_PORT: String(port) })
      expect(await app.exited).toBe(2)
      expectOneLine(app.output(), new RegExp(`^the HTTP port ${port} is in use: set HTTP_PORT`))
    } finally {
      blocker.close()
    }
  }, 120_000)
})

describe("a consumer that stops for good", () => {
  it("fails /readyz and ends the process with exit 1 once the server stays down past NATS_RECONNECT_FOR", async () => {
    const own = await LocalNatsProcess.start()
    try {
      const app = await startAppProcess("notifier", { NATS_URL: own.url, NATS_RECONNECT_FOR: "3s" })
      await app.waitReady(120_000)
      await own.stop()
      let sawNotReady = false
      await eventually(async () => {
        const status = await fetch(`${app.url}/readyz`).then((r) => r.status, () => "gone")
        if (status === 503) sawNotReady = true
        return status === "gone"
      }, 60_000, `the notifier to exit\n${app.output()}`)
      expect(sawNotReady).toBe(true)
      expect(await app.exited).toBe(1)
      expect(errorLines(app.output()).at(-1)).toMatch(/consumer ORDER_EVENTS\/notifier stopped|connection to nats:\/\/127\.0\.0\.1:\d+ was lost/)
    } finally {
      await own.stop()
    }
  }, 180_000)
})
