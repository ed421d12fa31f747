// Credentials never leak: the password given in NATS_URL (nats://user:password@host) or in
// NATS_PASSWORD works, survives a server restart mid-run, and appears in no log line, error,
// span, metric or HTTP body of the apps, the CLI or the demo; a wrong password fails at once.
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import { eventually, LocalNatsProcess, otlpReceiver } from "@conveyor/testing"
import { Effect, Exit, Scope } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const USER = "app"
const PASSWORD = "s3cr3t:Zq9/xK"
const IN_URL = encodeURIComponent(PASSWORD) // s3cr3t%3AZq9%2FxK
const WRONG = "wr0ng-Pw-77"
const root = new URL("../../..", import.meta.url).pathname

let server: LocalNatsProcess
const scope = Effect.runSync(Scope.make())
let otlp: Effect.Effect.Success<typeof otlpReceiver>
const apps: Array<AppProcess> = []
beforeAll(async () => {
  server = await LocalNatsProcess.start({ args: ["--user", USER, "--pass", PASSWORD] })
  otlp = await Effect.runPromise(Scope.extend(otlpReceiver, scope))
})
afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop("SIGKILL")))
  await server?.stop()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const urlWith = (password: string) => `nats://${USER}:${encodeURIComponent(password)}@127.0.0.1:${server.port}`
const start = async (app: string, env: Record<string, string>) => {
  const started = await startAppProcess(app, {
    LOG_LEVEL: "debug",
    OTEL_SDK_DISABLED: "false",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: "200",
    NATS_CONNECT_TIMEOUT: "20s",
    ...env
  })
  apps.push(started)
  return started
}
const body = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init)
  return { status: res.status, text: await res.text() }
}
const expectNoSecret = (what: string, text: string, secrets: ReadonlyArray<string> = [PASSWORD, IN_URL]) => {
  for (const secret of secrets) expect(text.includes(secret), `${what} contains the password:\n${text}`).toBe(false)
}
const run = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, cwd = root) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(process.execPath, args, { cwd, env, timeout: 170_000, killSignal: "SIGKILL", maxBuffer: 10_000_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, out: stdout + stderr })
    )
  })

describe("credentials", () => {
  // First: the demo reconciles its notifier's outcomes against its own orders, and the next case
  // leaves orders on the server that no orchestrator ran (the demo's apps would finish them).
  it("the demo runs against NATS_URL with a password and never prints it", async () => {
    const { code, out } = await run(
      ["--conditions=@conveyor/source", "--import", "tsx", "src/main.ts", "--orders", "20"],
      { ...process.env, NATS_URL: urlWith(PASSWORD), LOG_LEVEL: "debug" },
      join(root, "apps/demo")
    )
    expect(out).toContain("using NATS_URL=nats://app:[REDACTED]@127.0.0.1")
    expect(code, out.slice(-3_000)).toBe(0)
    expectNoSecret("demo output", out)
  }, 180_000)

  it("in NATS_URL and in NATS_PASSWORD connect, survive a server restart, and are printed nowhere", async () => {
    const gateway = await start("gateway", { NATS_URL: urlWith(PASSWORD) })
    const payments = await start("payments-worker", { NATS_URL: server.url, NATS_USER: USER, NATS_PASSWORD: PASSWORD })
    await Promise.all([gateway.waitReady(120_000), payments.waitReady(120_000)])
    const seen: Array<string> = []
    const order = (key: string) =>
      body(`${gateway.url}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ customerId: "c-1", items: [{ sku: "widget", quantity: 1, unitPriceCents: 500 }] })
      })
    const placed = await order("k-1")
    expect(placed.status).toBe(202)
    seen.push(placed.text)

    // The server goes away mid-run: /readyz says so (without the password), then it comes back.
    await server.stop({ keepStore: true })
    for (const app of [gateway, payments]) {
      await eventually(async () => (await body(`${app.url}/readyz`)).status === 503, 30_000, `${app.name} to notice the outage`)
      const down = await body(`${app.url}/readyz`)
      expect(down.text).toContain(`nats://127.0.0.1:${server.port}`)
      seen.push(down.text)
    }
    await server.restart()
    await Promise.all([gateway.waitReady(60_000), payments.waitReady(60_000)])
    const again = await order("k-2")
    expect(again.status).toBe(202)
    seen.push(again.text)
    for (const app of [gateway, payments]) {
      for (const path of ["/readyz", "/healthz", "/metrics", "/orders/nope"]) seen.push((await body(`${app.url}${path}`)).text)
    }
    await eventually(() => otlp.received.length > 0, 30_000, "spans to be exported")
    expect(await gateway.stop("SIGTERM")).toBe(0)
    expect(await payments.stop("SIGTERM")).toBe(0)

    expect(gateway.output()).toMatch(/nats disconnect/)
    expect(gateway.output()).toMatch(/nats reconnect/)
    expectNoSecret("gateway output", gateway.output())
    expectNoSecret("payments-worker output", payments.output())
    expectNoSecret("HTTP bodies", seen.join("\n"))
    expectNoSecret("exported spans", JSON.stringify(otlp.received))
  }, 300_000)

  it("a wrong password fails at once with one line and exit code 4, in either form", async () => {
    const inUrl = await start("gateway", { NATS_URL: urlWith(WRONG) })
    const inVariable = await start("payments-worker", { NATS_URL: server.url, NATS_USER: USER, NATS_PASSWORD: WRONG })
    for (const app of [inUrl, inVariable]) {
      expect(await app.exited, app.output()).toBe(4)
      const errors = app.output().trim().split("\n").filter((l) => l.includes(`"level":"error"`))
      expect(errors, app.output()).toHaveLength(1)
      expect(errors[0]).toContain("refused the credentials")
      // Not retried: the one failed attempt is the whole story.
      expect(app.output()).not.toMatch(/attempt/)
      expectNoSecret(`${app.name} output`, app.output(), [WRONG, encodeURIComponent(WRONG)])
    }
  }, 180_000)

  it("the CLI takes the password from --url and never prints it, also when it is wrong", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
    delete env["NATS_URL"]
    const cli = join(root, "apps/ctl/bin/conveyor.mjs")
    const ok = await run([cli, "status", "--url", urlWith(PASSWORD)], env)
    expect(ok.code, ok.out).toBe(0)
    expectNoSecret("conveyor status", ok.out)
    const refused = await run([cli, "status", "--url", urlWith(WRONG)], env)
    expect(refused.code, refused.out).toBe(4)
    expect(refused.out).toMatch(/^conveyor: authentication failed at nats:\/\/127\.0\.0\.1:\d+/m)
    expectNoSecret("conveyor status", refused.out, [WRONG])
  }, 180_000)

})
