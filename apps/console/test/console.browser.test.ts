import { consoleApp } from "@conveyor/console"
import { Buckets, Durables, StreamNames } from "@conveyor/domain"
import { GatewayRoutesLive, InventoryWorkerLive, NotifierLive, OrchestratorLive, PaymentsWorkerLive, ShippingWorkerLive } from "@conveyor/orders"
import { eventually } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import { jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { headers as natsHeaders } from "@nats-io/nats-core"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { ConfigProvider, Layer, ManagedRuntime } from "effect"
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { launchChromium, OPERATOR, startApps, VIEWER } from "./support.js"

// The console in Debian's chromium against a real nats-server and the order apps (in-process): the
// scenarios of issue 22. Screenshots go to a temporary folder, or to apps/console/docs/ (the README's
// pictures) when CONSOLE_SCREENSHOTS=docs, so a test run leaves the checkout as it was.
const server = useNatsServer()
const docs = process.env["CONSOLE_SCREENSHOTS"] === "docs"
  ? join(dirname(fileURLToPath(import.meta.url)), "..", "docs")
  : mkdtempSync(join(tmpdir(), "console-screenshots-"))
mkdirSync(docs, { recursive: true })

let nc: NatsConnection
let browser: Browser
let apps: Awaited<ReturnType<typeof startApps>>
let payments: Awaited<ReturnType<typeof startApps>> | undefined
let consoleBase = ""
let closeConsole: () => Promise<void>

// Commands wait for their answer for 10 minutes: the workflow waits for the operator, not a timer.
const common = { ORDER_STEP_TIMEOUT_MS: "600000", RETRY_INITIAL_DELAY_MS: "20", RETRY_MAX_DELAY_MS: "50" }
/** The payments worker; `failing`: every capture fails transiently and is dead-lettered after 2 attempts. */
const startPayments = (failing: boolean) =>
  startApps(server.url, "payments-worker", { ...common, PAYMENTS_FAILURE_RATE: failing ? "0.9999999" : "0", RETRY_MAX_ATTEMPTS: "2" }, PaymentsWorkerLive)

const placeOrder = async (orderId: string) => {
  const r = await fetch(`${apps.base}/orders`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ orderId, customerId: "c-1", items: [{ sku: "console-sku", quantity: 1, unitPriceCents: 500 }] })
  })
  expect(r.status).toBe(202)
}
const orderStatus = async (orderId: string) => ((await (await fetch(`${apps.base}/orders/${orderId}`)).json()) as { status?: string }).status

beforeAll(async () => {
  nc = await connect({ servers: server.url })
  apps = await startApps(server.url, "gateway", common, Layer.mergeAll(OrchestratorLive, InventoryWorkerLive, ShippingWorkerLive, NotifierLive), GatewayRoutesLive)
  payments = await startPayments(true)
  const provider = ConfigProvider.fromMap(new Map(Object.entries({
    NATS_URL: server.url, CONSOLE_PORT: "0", OTEL_SDK_DISABLED: "true", LOG_LEVEL: "error",
    CONSOLE_OPERATOR_PASSWORD: OPERATOR.password, CONSOLE_VIEWER_PASSWORD: VIEWER.password,
    CONSOLE_READYZ_URLS: `order-apps=${apps.base}/readyz`, CONSOLE_JAEGER_URL: "http://localhost:16686"
  })), { pathDelim: "_" }).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
  const runtime = ManagedRuntime.make(consoleApp.pipe(Layer.provide(Layer.setConfigProvider(provider))) as Layer.Layer<any, unknown, never>)
  const http = await runtime.runPromise(HttpServer.HttpServer)
  consoleBase = http.address._tag === "TcpAddress" ? `http://127.0.0.1:${http.address.port}` : ""
  closeConsole = () => runtime.dispose()
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await closeConsole?.()
  await payments?.close()
  await apps?.close()
  await nc?.close()
})

const login = async (who: { user: string; password: string }): Promise<Page> => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  await page.goto(`${consoleBase}/`)
  await page.fill("input[name=user]", who.user)
  await page.fill("input[name=password]", who.password)
  await Promise.all([page.waitForURL(`${consoleBase}/`), page.click("form.login button")])
  return page
}

const paymentsRow = (page: Page) => page.locator(`tr[data-consumer="${StreamNames.commands}/${Durables.payments}"] td.lag`)

describe("the console in a browser", () => {
  it("a poison message appears in its group, is previewed, replayed after the cause is fixed, and the order completes; lag shows and recovers", async () => {
    await placeOrder("poison-1")
    const page = await login(OPERATOR)
    // Dead-lettered after two failed captures.
    await eventually(async () => {
      await page.goto(`${consoleBase}/dead-letters`)
      return (await page.locator(`tr[data-group="${StreamNames.commands}/${Durables.payments} PaymentProviderUnavailable"]`).count()) === 1
    }, 30_000, "the poison message's group")
    const group = page.locator(`tr[data-group="${StreamNames.commands}/${Durables.payments} PaymentProviderUnavailable"]`)
    await expect.poll(() => group.locator("td.num").textContent()).toBe("1")
    await page.screenshot({ path: join(docs, "dead-letters.png"), fullPage: true })

    // Preview: nothing changes, the page says where the letter would go.
    await Promise.all([page.waitForURL(/\/jobs\//), group.locator("button", { hasText: "Replay group" }).click()])
    await page.locator("#job[data-finished=true]").waitFor()
    const row = page.locator("#results tr[data-result]")
    expect(await row.getAttribute("data-result")).toBe("would-replay")
    expect(await row.locator("code").nth(1).textContent()).toBe(`replay.${StreamNames.commands}.${Durables.payments}`)
    await page.screenshot({ path: join(docs, "replay-preview.png"), fullPage: true })
    const previewUrl = page.url()

    // The worker stops: the overview shows its durable's lag growing, live.
    await payments!.close()
    payments = undefined
    await placeOrder("lagging-1")
    const overview = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await overview.context().addCookies(await page.context().cookies())
    await overview.goto(`${consoleBase}/`)
    await expect.poll(async () => Number(await paymentsRow(overview).textContent()), { timeout: 30_000 }).toBeGreaterThan(0)
    await overview.screenshot({ path: join(docs, "overview-lag.png"), fullPage: true })

    // The cause is fixed (captures succeed again) and the worker is back: the lag drains, without a reload.
    payments = await startPayments(false)
    await expect.poll(async () => Number(await paymentsRow(overview).textContent()), { timeout: 30_000 }).toBe(0)
    await eventually(async () => (await orderStatus("lagging-1")) === "completed", 30_000, "the lagging order to complete")

    // Confirm the replay previewed earlier: a result per letter, and the poison order completes.
    await page.goto(previewUrl)
    await Promise.all([page.waitForURL((u) => u.toString() !== previewUrl), page.click("#confirm")])
    await page.locator("#job[data-finished=true]").waitFor()
    expect(await page.locator("#results tr[data-result]").getAttribute("data-result")).toBe("replayed")
    await page.screenshot({ path: join(docs, "replay-done.png"), fullPage: true })
    await eventually(async () => (await orderStatus("poison-1")) === "completed", 30_000, "the replayed order to complete")
    await page.goto(`${consoleBase}/dead-letters`)
    expect(await page.locator(`tr[data-group="${StreamNames.commands}/${Durables.payments} PaymentProviderUnavailable"]`).count()).toBe(0)
  }, 150_000)

  it("shows a workflow's timeline as stored in its history, each hop linked to Jaeger", async () => {
    const page = await login(VIEWER)
    await page.goto(`${consoleBase}/workflows?id=poison-1`)
    const kv = await new Kvm(jetstream(nc)).open(Buckets.workflows)
    const stored = (await kv.get("poison-1"))!.json<{ history: ReadonlyArray<{ seq: number; event: string; from?: string; to: string; at: number; traceId?: string; commands: ReadonlyArray<{ type: string }>; events: ReadonlyArray<{ type: string }> }> }>()
    const items = page.locator("#timeline li")
    expect(await items.count()).toBe(stored.history.length)
    for (const [i, h] of stored.history.entries()) {
      const item = items.nth(i)
      expect(await item.locator(".event").textContent()).toBe(h.event)
      expect(await item.locator(".transition").textContent()).toBe(`${h.from ?? "(start)"} → ${h.to}`)
      expect(await item.locator("time").textContent()).toBe(new Date(h.at).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"))
      expect(await item.locator(".commands").textContent()).toBe(h.commands.length === 0 ? "no commands" : h.commands.map((c) => c.type).join(", "))
      expect(await item.locator(".events").allTextContents()).toEqual(h.events.length === 0 ? [] : [`emitted ${h.events.map((e) => e.type).join(", ")}`])
      if (h.traceId !== undefined) expect(await item.locator(".trace a").getAttribute("href")).toBe(`http://localhost:16686/trace/${h.traceId}`)
    }
    expect(await page.locator("#state strong").textContent()).toBe("Completed")
    expect(await items.last().locator(".events").textContent()).toBe("emitted OrderCompleted")
    await page.screenshot({ path: join(docs, "workflow.png"), fullPage: true })
  })

  it("renders a dead letter whose payload holds <script> inert, the text visible escaped", async () => {
    const h = natsHeaders()
    h.set("Conveyor-Error-Tag", "DecodeError")
    h.set("Conveyor-Error-Message", `<img src=x onerror="window.__pwned = true">`)
    h.set("Conveyor-Original-Subject", "orders.events.<b>bold</b>")
    h.set("Conveyor-Original-Stream", StreamNames.events)
    h.set("Conveyor-Consumer", "notifier")
    const payload = `{"note":"<script>window.__pwned = true</script>"}`
    const ack = await jetstream(nc).publish(`dlq.${StreamNames.events}.notifier`, payload, { headers: h })
    const page = await login(OPERATOR)
    await page.goto(`${consoleBase}/dead-letters/${ack.seq}`)
    expect(await page.locator("#payload").textContent()).toContain("<script>window.__pwned = true</script>")
    expect(await page.locator("#error-message").textContent()).toBe(`<img src=x onerror="window.__pwned = true">`)
    await page.goto(`${consoleBase}/dead-letters`)
    await page.goto(`${consoleBase}/dead-letters/${ack.seq}`)
    expect(await page.evaluate(() => (globalThis as { __pwned?: boolean }).__pwned)).toBeUndefined()
    expect(await page.locator("main script, main img").count()).toBe(0)
    await page.screenshot({ path: join(docs, "dead-letter-escaped.png"), fullPage: true })
  })

  it("refuses actions without the operator role (403) and without the session's CSRF token (403)", async () => {
    const viewer = await login(VIEWER)
    await viewer.goto(`${consoleBase}/dead-letters`)
    expect(await viewer.locator("button", { hasText: "Replay" }).count()).toBe(0)
    const post = (page: Page, withToken: boolean) =>
      page.evaluate(async (withToken) => {
        // Runs in the page: the DOM's types are not in this project's lib.
        const csrf = (globalThis as any).document.querySelector("input[name=csrf]").value as string
        const body = new URLSearchParams({ action: "purge", seq: "1", ...(withToken ? { csrf } : {}) })
        return (await fetch("/dead-letters/preview", { method: "POST", body, redirect: "manual" })).status
      }, withToken)
    expect(await post(viewer, true)).toBe(403)
    const operator = await login(OPERATOR)
    await operator.goto(`${consoleBase}/dead-letters`)
    expect(await post(operator, false)).toBe(403)
  })
})
