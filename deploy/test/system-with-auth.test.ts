// The real system under the generated least-privilege users, as compose and Kubernetes run it:
// `conveyor topology apply` as the provisioning user, then every app as its own process with its
// own user and CONVEYOR_ENSURE_TOPOLOGY=false. An order placed at the gateway must complete.
import { inboxPrefixOf, PROVISIONING_USER } from "@conveyor/auth"
import { type AppProcess, startAppProcess } from "@conveyor/testing/app-process"
import type { LocalNatsProcess } from "@conveyor/testing"
import { spawn } from "node:child_process"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { services } from "../scripts/manifests.js"
import { randomPasswords, startAuthServer } from "./auth-server.js"
import { deployDir } from "./render.js"

const passwords = randomPasswords()
let server: LocalNatsProcess
const apps: Array<AppProcess> = []

const clientEnv = (user: string) => ({
  NATS_URL: server.url,
  NATS_USER: user,
  NATS_PASSWORD: passwords.get(user)!,
  NATS_INBOX_PREFIX: inboxPrefixOf(user),
  CONVEYOR_ENSURE_TOPOLOGY: "false"
})

/** Runs the operator CLI from its sources, as the provisioning Job does from its image. */
const ctl = (args: ReadonlyArray<string>, user: string) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [join(deployDir, "..", "apps", "ctl", "bin", "conveyor.mjs"), ...args], {
      env: { ...process.env, ...clientEnv(user) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (c: Buffer) => (output += c.toString()))
    child.stderr.on("data", (c: Buffer) => (output += c.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

beforeAll(async () => {
  server = await startAuthServer(passwords)
}, 60_000)

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop("SIGKILL")))
  await server?.stop()
})

describe("the system with least-privilege NATS users", () => {
  it("provisions with `conveyor topology apply` as the provisioning user; an app user may not", async () => {
    const refused = await ctl(["topology", "apply"], "notifier")
    expect(refused.code).not.toBe(0)
    expect(refused.output).toMatch(/permissions violation/i)
    const applied = await ctl(["topology", "apply"], PROVISIONING_USER)
    expect(applied.code, applied.output).toBe(0)
  }, 120_000)

  it("runs every app under its own user, completes an order end to end, and stops cleanly", async () => {
    for (const app of services) apps.push(await startAppProcess(app, clientEnv(app)))
    await Promise.all(apps.map((a) => a.waitReady(90_000)))
    const gateway = apps.find((a) => a.name === "gateway")!
    const placed = await fetch(`${gateway.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ customerId: "c-auth", items: [{ sku: "widget", quantity: 1, unitPriceCents: 700 }] })
    })
    expect(placed.status).toBe(202)
    const { orderId } = (await placed.json()) as { orderId: string }
    const deadline = Date.now() + 60_000
    let status = "unknown"
    while (Date.now() < deadline) {
      status = ((await (await fetch(`${gateway.url}/orders/${orderId}`)).json()) as { status: string }).status
      if (status === "completed" || status === "cancelled") break
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(status, apps.map((a) => `--- ${a.name}\n${a.output().slice(-2_000)}`).join("\n")).toBe("completed")
    for (const a of apps) expect(a.output(), a.name).not.toMatch(/permissions violation/i)
    // The dead-letter depth is read under each consuming app's own user (polled at start-up, so already there).
    const notifier = apps.find((a) => a.name === "notifier")!
    expect(await (await fetch(`${notifier.url}/metrics`)).text()).toMatch(/^conveyor_consumer_dead_letter_depth\{stream="DEAD_LETTERS",source_stream="ORDER_EVENTS",consumer="notifier"\} 0$/m)
    for (const a of apps.splice(0)) expect(await a.stop("SIGTERM"), a.name).toBe(0)
  }, 240_000)
})
