// Exit codes and messages exactly as a script sees them: the CLI runs as a child process with
// stdin closed. Each error path must print one line on stderr.
import { freePort, LocalNatsProcess } from "@conveyor/testing"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { runChild, runInProcess, withoutForcedColor, type CliResult } from "./support.js"

let secured: LocalNatsProcess
beforeAll(async () => {
  secured = await LocalNatsProcess.start({ args: ["--user", "a", "--pass", "b"] })
})
afterAll(async () => {
  await secured?.stop()
})

const oneLine = (r: CliResult) => {
  const lines = r.stderr.trimEnd().split("\n")
  expect(lines, r.stderr).toHaveLength(1)
  return lines[0]
}

describe("error paths", () => {
  it("unreachable server: exit 3", async () => {
    const port = await freePort()
    const r = await runChild(["status", "--url", `nats://127.0.0.1:${port}`, "--connect-timeout", "1 second"])
    expect(r.code).toBe(3)
    expect(oneLine(r)).toMatch(new RegExp(`^conveyor: cannot reach NATS at nats://127.0.0.1:${port}: .*refused`))
    expect(r.stdout).toBe("")
  })

  it("auth failure: exit 4; the right credentials from NATS_USER/NATS_PASSWORD work", async () => {
    const denied = await runChild(["status", "--url", secured.url, "--connect-timeout", "1 second"], { NATS_USER: "a", NATS_PASSWORD: "wrong" })
    expect(denied.code).toBe(4)
    expect(oneLine(denied)).toBe(`conveyor: authentication failed at ${secured.url}: Authorization Violation`)
    const allowed = await runChild(["status", "--url", secured.url], { NATS_USER: "a", NATS_PASSWORD: "b" })
    expect(allowed).toMatchObject({ code: 0, stderr: "" })
    expect(allowed.stdout).toContain("no streams")
  })

  it("unknown stream: exit 5, through the installed `conveyor` bin", async () => {
    const bin = fileURLToPath(new URL("../bin/conveyor.mjs", import.meta.url))
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, "status", "--stream", "NOPE"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...withoutForcedColor(), NATS_URL: secured.url, NATS_USER: "a", NATS_PASSWORD: "b" }
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 60_000)
      child.once("error", reject)
      child.once("exit", (code) => {
        clearTimeout(timer)
        resolve({ code: code ?? -1, stdout, stderr })
      })
    })
    expect(r.code).toBe(5)
    expect(oneLine(r)).toBe("conveyor: unknown stream NOPE")
  })

  it("bad settings and bad arguments: exit 2", async () => {
    // No server needed: these fail before connecting, so they run in this process.
    const url = await runInProcess("status", "--url", "ftp://example")
    expect(url.code).toBe(2)
    // The flag that was wrong, not the variable it stands for.
    expect(oneLine(url)).toBe("conveyor: invalid configuration: --url: server 1 must be nats://, tls://, ws:// or wss:// with a host")
    const creds = await runInProcess("status", "--creds", "/nonexistent/user.creds")
    expect(creds).toMatchObject({ code: 2, stderr: "conveyor: credentials file not found: /nonexistent/user.creds" })
    const flag = await runInProcess("status", "--no-such-flag")
    expect(flag.code).toBe(2)
    expect(oneLine(flag)).toBe("conveyor: Received unknown argument: '--no-such-flag'")
    const timeout = await runInProcess("status", "--connect-timeout", "soon")
    expect(oneLine(timeout)).toMatch(/^conveyor: invalid configuration: --connect-timeout: must be milliseconds/)
  })

  it("help into a pipe: no colours, at most 100 columns, exit 0", async () => {
    const r = await runChild(["dlq", "--help"], { NO_COLOR: "" })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("replay")
    expect(r.stdout).not.toContain("\u001b[")
    expect(Math.max(...r.stdout.split("\n").map((l) => l.length))).toBeLessThanOrEqual(100)
  })
})
