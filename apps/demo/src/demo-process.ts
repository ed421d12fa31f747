import { execFile } from "node:child_process"

/** Runs the demo as its own process (as `npm run demo` does) and collects its exit code and output. */
export const runDemoProcess = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs = 110_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ["--conditions=@conveyor/source", "--import", "tsx", "src/main.ts", ...args], {
      env, cwd: new URL("..", import.meta.url).pathname, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 10_000_000
    }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : (typeof error.code === "number" ? error.code : null), stdout, stderr }))
    // Belt and braces: a failing assertion never leaves the demo (and its nats-servers) running.
    process.once("exit", () => child.kill("SIGKILL"))
  })

/** A row's count in the demo's table. */
export const countIn = (stdout: string, row: string): number => Number(new RegExp(`\\| ${row}\\s+\\|\\s+(\\d+)`).exec(stdout)?.[1])
