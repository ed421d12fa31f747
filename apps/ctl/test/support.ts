import { NodeContext } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runCli } from "../src/index.js"

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const show = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")

/** Runs the CLI in this process with stdout/stderr captured: the fast path for most tests. */
export const runInProcess = async (...args: ReadonlyArray<string>): Promise<CliResult> => {
  const out: Array<string> = []
  const err: Array<string> = []
  const code = await Effect.runPromise(
    Console.consoleWith((base) =>
      runCli(["node", "conveyor", ...args]).pipe(
        Console.withConsole({
          ...base,
          log: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(show(a))),
          error: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void err.push(show(a)))
        })
      )
    ).pipe(Effect.provide(NodeContext.layer))
  )
  return { code, stdout: out.join("\n"), stderr: err.join("\n") }
}

/** The test runner may set FORCE_COLOR; Node then warns about NO_COLOR on stderr. */
export const withoutForcedColor = (): NodeJS.ProcessEnv => {
  const { FORCE_COLOR: _, ...env } = process.env
  return env
}

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** The CLI as a child process the test drives itself (signals, partial output). */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawn(process.execPath, ["--conditions=@conveyor/source", "--import", "tsx", main, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...withoutForcedColor(), NO_COLOR: "1", ...env }
  })

/**
 * Runs the CLI as a child process, stdin closed (a non-interactive shell), for exit codes and
 * output exactly as a script sees them. Killed by its pid if it outlives `timeoutMs`.
 */
export const runChild = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawnCli(args, env)
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
      reject(new Error(`conveyor ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The CLI on a pseudo-terminal (util-linux `script`), as an operator at a keyboard runs it: once
 * stdout shows `prompt`, `answer` is typed. Killed by its pid if it outlives `timeoutMs`.
 */
export const runOnTerminal = (args: ReadonlyArray<string>, prompt: string, answer: string, timeoutMs = 60_000): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const command = [process.execPath, "--conditions=@conveyor/source", "--import", "tsx", main, ...args].map(shellQuote).join(" ")
    const child = spawn("script", ["-qec", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"], env: { ...withoutForcedColor(), NO_COLOR: "1" } })
    let stdout = ""
    let answered = false
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString()
      if (!answered && stdout.includes(prompt)) {
        answered = true
        child.stdin.write(answer)
      }
    })
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
      reject(new Error(`conveyor ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stdout}`))
    }, timeoutMs)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr: "" })
    })
  })

