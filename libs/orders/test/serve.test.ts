// `npx nx run <app>:serve`, the documented way to run an app, stopped the three ways it happens:
// Ctrl-C (SIGINT to the whole terminal job), SIGTERM to nx, SIGTERM to npx. Each time the app
// sees one stop request, stops gracefully and exits 0, and no process of the job is left.
import { eventually, freePort, LocalNatsProcess } from "@conveyor/testing"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { stripVTControlCharacters } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"

const root = new URL("../../..", import.meta.url).pathname
let server: LocalNatsProcess
const jobs: Array<number> = []
beforeAll(async () => {
  server = await LocalNatsProcess.start()
})
afterAll(async () => {
  for (const pgid of jobs) {
    try {
      process.kill(-pgid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  await server?.stop()
})

const jobPids = (pgid: number): Array<{ pid: number; command: string }> => {
  try {
    return execFileSync("ps", ["-o", "pid=,pgid=,args=", "-e"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => Number(f[1]) === pgid)
      .map((f) => ({ pid: Number(f[0]), command: f.slice(2).join(" ") }))
  } catch {
    return []
  }
}

/** `npx nx run shipping-worker:serve` as a terminal job of its own (its own process group). */
const serve = async () => {
  const port = await freePort()
  const child: ChildProcess = spawn("npx", ["nx", "run", "shipping-worker:serve", "--outputStyle=stream"], {
    cwd: root,
    detached: true,
    env: { ...process.env, NATS_URL: server.url, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", NX_DAEMON: "false", NX_TUI: "false", NX_NO_CLOUD: "true", OTEL_SDK_DISABLED: "true" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  jobs.push(child.pid!)
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  await eventually(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), 150_000, `the app to be ready\n${output}`)
  const pids = jobPids(child.pid!)
  const nx = pids.find((p) => /node_modules\/\.bin\/nx run/.test(p.command))
  expect(nx, JSON.stringify(pids)).toBeDefined()
  return { pgid: child.pid!, nxPid: nx!.pid, pids, exited, output: () => output }
}

const allExited = (job: Awaited<ReturnType<typeof serve>>) =>
  eventually(() => job.pids.every((p) => !isAlive(p.pid)), 60_000, `every process of the job to exit\n${job.output()}`)

/** Seen through nx's output: one stop request, a graceful stop, exit 0 ("Successfully ran"). */
const expectCleanStop = async (job: Awaited<ReturnType<typeof serve>>) => {
  await allExited(job)
  // nx colours its lines when it thinks it may (CI=true does): match the text without them.
  const output = stripVTControlCharacters(job.output())
  // nx may stop relaying the app's output once it is signalled itself (as on Ctrl-C), so the
  // graceful-stop line can be missing; exit 0 ("Successfully ran": a second signal would exit
  // 130) and no "received again" are what prove one stop request, stopped gracefully.
  expect((output.match(/received: stopping gracefully/g) ?? []).length, output).toBeLessThanOrEqual(1)
  expect(output).not.toMatch(/received again|graceful stop did not finish/)
  expect(output).toMatch(/Successfully ran target serve/)
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.concurrent("nx run <app>:serve stops cleanly", () => {
  // nx silences its own output on SIGINT (the prompt is back at once), so only the processes can be
  // watched here: all of them end, none is left behind.
  it("on Ctrl-C (SIGINT to the whole job)", async () => {
    const job = await serve()
    process.kill(-job.pgid, "SIGINT")
    await allExited(job)
  }, 240_000)

  it("on SIGTERM to nx", async () => {
    const job = await serve()
    process.kill(job.nxPid, "SIGTERM")
    await expectCleanStop(job)
  }, 240_000)

  it("on SIGTERM to npx, leaving no orphans", async () => {
    const job = await serve()
    process.kill(job.pgid, "SIGTERM")
    await expectCleanStop(job)
  }, 240_000)
})
