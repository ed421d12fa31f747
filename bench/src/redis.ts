import { freePort, killOnExit, retryWhilePortTaken } from "@conveyor/testing"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A redis-server on 127.0.0.1 with its own temporary directory, AOF fsynced every second (what a BullMQ deployment runs). */
export interface LocalRedis {
  readonly port: number
  readonly pid: number
  readonly stop: () => Promise<void>
}

/**
 * Starts `redis-server` (or `REDIS_SERVER_BIN`); stopped by its own pid, its directory removed.
 * Started again on another port when the one `freePort` found was taken before redis bound it.
 */
export const startRedis = (): Promise<LocalRedis> =>
  retryWhilePortTaken(async () => {
    const dir = mkdtempSync(join(tmpdir(), "conveyor-redis-"))
    try {
      return await launch(dir, await freePort())
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
  })

const launch = async (dir: string, port: number): Promise<LocalRedis> => {
  const args = ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
  const child = spawn(process.env["REDIS_SERVER_BIN"] ?? "redis-server", args, { stdio: ["ignore", "pipe", "pipe"] })
  killOnExit(child)
  let output = ""
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in 15 s:\n${output}`)), 15_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(new Error(`cannot start redis-server (install the redis-server package, or set REDIS_SERVER_BIN): ${e.message}`))
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}:\n${output}`))
    })
  })
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM")
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
