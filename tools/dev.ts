// `npm run dev`: a local nats-server (JetStream, temporary store; unless NATS_URL is set) and every
// order app as its own process on its own port, their output prefixed by the app's name. Ctrl-C
// (or SIGTERM) stops every app gracefully, then the server. If an app exits by itself, the
// others are stopped too and the exit code is 1. Once every app's /readyz passed it says
// "every app is ready". The apps run bundled (bundleApps, below), not through tsx.
//
// DEV_PORT_OFFSET=N moves every port by N (apps and nats-server), to run beside another copy.
// The web console runs too, on 8090: its operator password is CONSOLE_OPERATOR_PASSWORD, or a
// random one printed at start (this terminal only).
// Light modules only (no Effect, no client): the apps load the libraries, this runner does not.
import { DEFAULT_CONSOLE_PORT } from "@conveyor/console/port"
import { defaultHttpPorts, type OrderAppName } from "@conveyor/orders/ports"
import { LocalNatsProcess } from "@conveyor/testing/local-server"
import { build, type Plugin } from "esbuild"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { watchJob } from "./job.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const offset = Number(process.env["DEV_PORT_OFFSET"] ?? "0")
if (!Number.isInteger(offset) || offset < 0) {
  console.error(`dev: DEV_PORT_OFFSET must be a whole number, got '${process.env["DEV_PORT_OFFSET"]}'`)
  process.exit(2)
}
const orderApps = Object.keys(defaultHttpPorts) as Array<OrderAppName>
const apps = [...orderApps, "console"] as const
const portOf = (app: (typeof apps)[number]) => (app === "console" ? DEFAULT_CONSOLE_PORT : defaultHttpPorts[app]) + offset
const width = Math.max(...apps.map((a) => a.length), "nats-server".length)
const colour = process.stdout.isTTY && process.env["NO_COLOR"] === undefined
const palette = [36, 33, 35, 32, 34, 31, 90]
const prefix = (name: string, i: number) => {
  const label = name.padEnd(width)
  return colour ? `\u001b[${palette[i % palette.length]}m${label}\u001b[0m | ` : `${label} | `
}
const say = (line: string) => process.stdout.write(`${prefix("dev", palette.length - 1)}${line}\n`)
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {})

/** Copies a child's output line by line, each line prefixed. */
const relay = (child: ChildProcess, label: string) => {
  for (const [from, to] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
    let partial = ""
    from.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) to.write(`${label}${line}\n`)
    })
    from.on("end", () => partial !== "" && to.write(`${label}${partial}\n`))
  }
}

/**
 * Says "every app is ready" once, when every app's /readyz passed: the one line a person (or a
 * test) waits for, instead of watching seven ports. Each app is asked once at a time, every 250 ms.
 */
const announceReady = async (stopping: () => boolean) => {
  const started = Date.now()
  const pending = new Set(apps)
  const ready = (app: (typeof apps)[number]) =>
    fetch(`http://127.0.0.1:${portOf(app)}/readyz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.ok, () => false)
  while (pending.size > 0) {
    if (stopping()) return
    for (const [app, ok] of await Promise.all([...pending].map(async (app) => [app, await ready(app)] as const))) if (ok) pending.delete(app)
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 250))
  }
  if (!stopping()) say(`every app is ready (${((Date.now() - started) / 1000).toFixed(1)} s after they were started)`)
}

/** Packages load from node_modules as they are; the workspace's own (`@conveyor/*`, TypeScript) are bundled. */
const packagesExternal: Plugin = {
  name: "packages-external",
  setup: (b) => b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@conveyor/") ? undefined : { path: args.path, external: true }))
}

/**
 * Bundles every app's TypeScript (its src/main.ts and the workspace libraries it imports) into one
 * file per app in `outdir`, to run with plain node. Eight Node processes start at once here: through
 * tsx's loader each app took about 1.9 s of CPU to load its modules, bundled about 0.9 s, which is
 * what decides how long start-up takes on a loaded machine. Takes well under a second.
 */
const bundleApps = async (outdir: string): Promise<Record<(typeof apps)[number], string>> => {
  await build({
    entryPoints: Object.fromEntries(apps.map((app) => [app, join(root, "apps", app, "src", "main.ts")])),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["@conveyor/source"],
    sourcemap: true,
    logLevel: "warning",
    plugins: [packagesExternal]
  })
  return Object.fromEntries(apps.map((app) => [app, join(outdir, `${app}.mjs`)])) as Record<(typeof apps)[number], string>
}

const main = async () => {
  const nats =
    process.env["NATS_URL"] === undefined
      ? await LocalNatsProcess.start({ port: 4222 + offset, monitorPort: 8222 + offset }).catch((e: unknown) => {
          throw new Error(`could not start nats-server on port ${4222 + offset} (in use? set NATS_URL or DEV_PORT_OFFSET): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`)
        })
      : undefined
  const url = nats?.url ?? process.env["NATS_URL"]!
  say(nats ? `started nats-server on ${url} (monitoring on http://127.0.0.1:${8222 + offset})` : "using NATS_URL")
  const env = { ...process.env, NATS_URL: url, LOG_FORMAT: process.env["LOG_FORMAT"] ?? (process.stdout.isTTY ? "pretty" : "json") }
  delete env["HTTP_PORT"]
  delete env["PORT"]
  const consolePassword = process.env["CONSOLE_OPERATOR_PASSWORD"] ?? randomBytes(12).toString("base64url")
  const consoleEnv = {
    CONSOLE_PORT: String(portOf("console")),
    CONSOLE_OPERATOR_PASSWORD: consolePassword,
    CONSOLE_READYZ_URLS: orderApps.map((a) => `${a}=http://127.0.0.1:${portOf(a)}/readyz`).join(",")
  }
  // This run's own folder (inside the checkout, so the bundles find node_modules): another copy
  // running beside it (DEV_PORT_OFFSET) must not read a bundle while this one writes it.
  const outdir = join(root, "tmp", "dev", String(process.pid))
  const bundles = await bundleApps(outdir)
  const children = apps.map((app, i) => {
    const child = spawn(process.execPath, ["--enable-source-maps", bundles[app]], {
      cwd: join(root, "apps", app),
      env: { ...env, ...(app === "console" ? consoleEnv : { HTTP_PORT: String(portOf(app)) }) },
      // Its own process group: Ctrl-C reaches the apps only through this runner, once each.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    relay(child, prefix(app, i))
    const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128))))
    return { app, child, exited }
  })
  say(`every app is starting: ${apps.map((a) => `${a} http://127.0.0.1:${portOf(a)}`).join(", ")}; Ctrl-C stops them all`)
  if (process.env["CONSOLE_OPERATOR_PASSWORD"] === undefined) say(`console: log in as operator with password ${consolePassword} (or set CONSOLE_OPERATOR_PASSWORD)`)

  let stopping = false
  void announceReady(() => stopping)
  const stopAll = (why: string) => {
    if (stopping) return
    stopping = true
    say(`${why}: stopping every app`)
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stopAll(`${signal} received`))
  const unwatch = watchJob(() => stopAll("the terminal job is gone"))
  for (const { app, exited } of children) void exited.then((code) => !stopping && stopAll(`${app} exited with ${code}`))

  const codes = await Promise.all(children.map((c) => c.exited))
  unwatch()
  await nats?.stop()
  rmSync(outdir, { recursive: true, force: true })
  const failed = children.flatMap((c, i) => (codes[i] === 0 ? [] : [`${c.app} (${codes[i]})`]))
  say(failed.length === 0 ? "every app stopped cleanly" : `not every app stopped cleanly: ${failed.join(", ")}`)
  return failed.length === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`dev: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
)
