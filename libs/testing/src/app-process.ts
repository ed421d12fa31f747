import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { killOnExit } from "./kill-on-exit.js"
import { freePort } from "./local-server.js"

/**
 * Runs an app as its own process: by default its `src/main.ts` (for end-to-end tests), the same
 * entry point as `nx run <app>:serve`, through tsx with the source condition; with
 * `{ from: "build" }` its compiled `dist/main.js` as the image runs it (deploy/docker/Dockerfile:
 * `node --enable-source-maps`, `NODE_ENV=production`, the libraries' compiled JavaScript; build it
 * first with `nx run <app>:build`). Kill it by its pid; nothing here outlives the caller (`killOnExit`).
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

// The repository root, from libs/testing/src (or dist).
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

export interface AppProcessOptions {
  /** `source` (default): `src/main.ts` through tsx; `build`: `dist/main.js`, as deployed. */
  readonly from?: "source" | "build"
  /** Node and V8 flags before the entry point, e.g. `--max-old-space-size=192`. */
  readonly nodeArgs?: ReadonlyArray<string>
}

export const startAppProcess = async (
  app: string, env: Record<string, string>, args: ReadonlyArray<string> = [], options: AppProcessOptions = {}
): Promise<AppProcess> => {
  const port = await freePort()
  const cwd = join(root, "apps", app)
  const built = options.from === "build"
  if (built && !existsSync(join(cwd, "dist", "main.js"))) throw new Error(`${app} is not built: run npx nx run ${app}:build`)
  const entry = built ? ["--enable-source-maps", "dist/main.js"] : ["--conditions=@conveyor/source", "--import", "tsx", "src/main.ts"]
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, ...args], {
    cwd,
    env: { ...process.env, ...(built ? { NODE_ENV: "production" } : {}), HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", OTEL_SDK_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  killOnExit(child)
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
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
