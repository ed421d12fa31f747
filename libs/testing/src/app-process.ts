import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * Runs an app's `src/main.ts` as its own process (for end-to-end tests): the same entry point as
 * `nx run <app>:serve`, through tsx with the source condition. Kill it by its pid; nothing here
 * outlives the caller (an exit hook SIGKILLs what is still running).
 */
export interface AppProcess {
  readonly name: string
  readonly pid: number
  /** `http://127.0.0.1:<HTTP_PORT>` */
  readonly url: string
  readonly output: () => string
  readonly waitReady: (timeoutMs?: number) => Promise<void>
  /** Sends the signal and resolves with the exit code (or the signal name). */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | string>
  /** Resolves with the exit code (or the signal name) once the process exits by itself. */
  readonly exited: Promise<number | string>
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const live = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL")
})

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })

export const startAppProcess = async (app: string, env: Record<string, string>, args: ReadonlyArray<string> = []): Promise<AppProcess> => {
  const port = await freePort()
  const cwd = join(root, "apps", app)
  const child = spawn(process.execPath, ["--conditions=@conveyor/source", "--import", "tsx", "src/main.ts", ...args], {
    cwd,
    env: { ...process.env, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", OTEL_SDK_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  live.add(child)
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child)
      resolve(code ?? signal ?? "unknown")
    })
  )
  const url = `http://127.0.0.1:${port}`
  return {
    name: app,
    pid: child.pid!,
    url,
    output: () => output,
    exited,
    waitReady: async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode}:\n${output}`)
        const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false)
        if (ok) return
        await new Promise((r) => setTimeout(r, 200))
      }
      throw new Error(`${app} not ready after ${timeoutMs} ms:\n${output}`)
    },
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal)
      return exited
    }
  }
}
