import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { withoutForcedColor } from "./support.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

// Prints every module URL the child loads on stderr (module hooks run in their own thread).
const hooks = `export async function load(url, context, next) { console.error("LOADED " + url); return next(url, context) }`
const tracer = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)})`

/** Runs the CLI from its sources and returns its exit code and the modules it loaded. */
const loadedBy = (args: ReadonlyArray<string>): Promise<{ code: number; modules: ReadonlyArray<string> }> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@conveyor/source", "--import", "tsx", "--import", `data:text/javascript,${encodeURIComponent(tracer)}`, main, ...args],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...withoutForcedColor(), NO_COLOR: "1" } }
    )
    let stderr = ""
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
      reject(new Error(`conveyor ${args.join(" ")} did not exit\n${stderr}`))
    }, 60_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, modules: stderr.split("\n").filter((l) => l.startsWith("LOADED ")).map((l) => l.slice(7)) })
    })
  })

// The package indexes load OpenTelemetry's SDK, the HTTP servers and every consumer: seconds of
// start-up a command that parses flags or talks to a server does not need.
const heavy = (modules: ReadonlyArray<string>) =>
  modules.filter((m) => m.includes("/@opentelemetry/") || /\/libs\/(nats|telemetry)\/src\/index\.ts$/.test(m) || m.includes("/@effect/platform-node/dist/esm/index.js"))

describe("conveyor start-up", () => {
  it("--help and a command's --help load neither OpenTelemetry nor the library indexes", async () => {
    for (const args of [["--help"], ["status", "--help"], ["dlq", "replay", "--help"]]) {
      const { code, modules } = await loadedBy(args)
      expect(code).toBe(0)
      expect(modules.some((m) => m.includes("/@effect/cli/"))).toBe(true)
      expect(heavy(modules)).toEqual([])
    }
  }, 120_000)

  it("a command that connects loads the NATS client but not OpenTelemetry", async () => {
    const { code, modules } = await loadedBy(["status", "--url", "nats://127.0.0.1:1", "--connect-timeout", "1s"])
    expect(code).toBe(3)
    expect(modules.some((m) => m.includes("/@nats-io/transport-node/"))).toBe(true)
    expect(heavy(modules)).toEqual([])
  }, 60_000)
})
