import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"

// Start-up failures are one line and an exit code, like the other apps (libs/nats runMain).
const cwd = join(dirname(fileURLToPath(import.meta.url)), "..")

const run = (env: Record<string, string>, args: ReadonlyArray<string> = []) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CONSOLE_")))
    const child = spawn(process.execPath, ["--conditions=@conveyor/source", "--import", "tsx", "src/main.ts", ...args], {
      cwd, env: { ...clean, LOG_FORMAT: "json", NATS_URL: "nats://127.0.0.1:1", NATS_CONNECT_TIMEOUT: "1s", ...env }, stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.once("exit", (code) => resolve({ code, output }))
  })

describe("console start-up", () => {
  it("refuses to start without a login password or with a bad variable: exit 2, one line naming it", async () => {
    const none = await run({})
    expect(none.code).toBe(2)
    expect(none.output.trim().split("\n")).toHaveLength(1)
    expect(none.output).toContain("CONSOLE_OPERATOR_PASSWORD")
    const bad = await run({ CONSOLE_OPERATOR_PASSWORD: "long-enough-1", CONSOLE_READYZ_URLS: "gateway" })
    expect(bad.code).toBe(2)
    expect(bad.output).toContain("CONSOLE_READYZ_URLS")
  }, 60_000)

  it("exits 3 with one line when NATS is unreachable, and prints its variables for --help", async () => {
    const unreachable = await run({ CONSOLE_OPERATOR_PASSWORD: "long-enough-1", CONSOLE_PORT: "0" })
    expect(unreachable.code).toBe(3)
    expect(unreachable.output.trim().split("\n")).toHaveLength(1)
    expect(unreachable.output).toContain("nats://127.0.0.1:1")
    const help = await run({}, ["--help"])
    expect(help.code).toBe(0)
    expect(help.output).toContain("CONSOLE_OPERATOR_PASSWORD")
  }, 60_000)
})
