import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { killOnExit } from "./kill-on-exit.js"

/** A nats-server process on 127.0.0.1 with JetStream and its own store directory. */
export interface LocalServerOptions {
  readonly binary?: string
  /** Extra command-line arguments, e.g. `["-c", "auth.conf"]`. */
  readonly args?: ReadonlyArray<string>
  readonly port?: number
  readonly monitorPort?: number
  readonly storeDir?: string
  readonly startTimeoutMs?: number
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })

/** Servers started on ports found free, one after another, before a port taken meanwhile is reported. */
const PORT_ATTEMPTS = 5

/**
 * Runs `start` (which takes its ports from `freePort`) again while it fails because a port was
 * taken: a port `freePort` found free can be taken by another process (a test file running beside
 * this one) before the server binds it. Any other failure, or the last attempt's, is thrown.
 */
export const retryWhilePortTaken = async <A>(start: () => Promise<A>): Promise<A> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (error) {
      const portTaken = error instanceof Error && /address already in use/i.test(error.message)
      if (!portTaken || attempt >= PORT_ATTEMPTS) throw error
    }
  }
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

export class LocalNatsProcess {
  private child: ChildProcess | undefined
  private output = ""
  readonly ownsStore: boolean
  readonly storeDir: string

  private constructor(
    readonly binary: string,
    readonly port: number,
    readonly monitorPort: number,
    storeDir: string | undefined,
    private readonly extraArgs: ReadonlyArray<string>,
    private readonly startTimeoutMs: number
  ) {
    this.ownsStore = storeDir === undefined
    this.storeDir = storeDir ?? mkdtempSync(join(tmpdir(), "conveyor-nats-"))
  }

  static async start(options: LocalServerOptions = {}): Promise<LocalNatsProcess> {
    // Ports the caller chose are not replaced: only servers on ports found free are started again.
    const startOnce = async () => {
      const server = new LocalNatsProcess(
        options.binary ?? process.env["NATS_SERVER_BIN"] ?? "nats-server",
        options.port ?? (await freePort()),
        options.monitorPort ?? (await freePort()),
        options.storeDir,
        options.args ?? [],
        options.startTimeoutMs ?? 15_000
      )
      try {
        await server.launch()
        return server
      } catch (error) {
        if (server.ownsStore) rmSync(server.storeDir, { recursive: true, force: true })
        throw error
      }
    }
    return options.port === undefined && options.monitorPort === undefined ? retryWhilePortTaken(startOnce) : startOnce()
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Starts the process again on the same port and store (after stop or kill). */
  async restart(): Promise<void> {
    if (this.running) await this.stop({ keepStore: true })
    await this.launch()
  }

  /** SIGKILL: no flush, no lame duck. What a crash looks like to clients. */
  async kill(): Promise<void> {
    await this.terminate("SIGKILL")
  }

  async stop(options: { keepStore?: boolean } = {}): Promise<void> {
    await this.terminate("SIGTERM")
    if (!options.keepStore && this.ownsStore) rmSync(this.storeDir, { recursive: true, force: true })
  }

  private async launch(): Promise<void> {
    const args = [
      "-js",
      "-a", "127.0.0.1",
      "-p", String(this.port),
      "-m", String(this.monitorPort),
      "-sd", this.storeDir,
      ...this.extraArgs
    ]
    const child = spawn(this.binary, args, { stdio: ["ignore", "pipe", "pipe"] })
    this.child = child
    this.output = ""
    killOnExit(child)
    const append = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8_000)
    }
    child.stdout?.on("data", append)
    child.stderr?.on("data", append)
    const spawnError = new Promise<never>((_, reject) => child.once("error", reject))
    spawnError.catch(() => undefined)
    const deadline = Date.now() + this.startTimeoutMs
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`nats-server exited during start-up (code ${child.exitCode}):\n${this.output}`)
      }
      const ready = await Promise.race([canConnect(this.port), spawnError])
      if (ready && this.output.includes("Server is ready")) return
      if (Date.now() > deadline) {
        child.kill("SIGKILL")
        throw new Error(`nats-server did not become ready on port ${this.port} within ${this.startTimeoutMs} ms:\n${this.output}`)
      }
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.kill(signal)
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    await exited
    clearTimeout(timer)
  }

  /** The last lines the server printed: attach them to a failing assertion. */
  get log(): string {
    return this.output
  }
}
