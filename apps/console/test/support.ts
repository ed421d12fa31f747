import { orderApp } from "@conveyor/orders"
import * as HttpServer from "@effect/platform/HttpServer"
import { ConfigProvider, type Layer, Layer as L, ManagedRuntime } from "effect"
import { chromium, type Browser } from "playwright-core"
import { existsSync } from "node:fs"

/** Order apps in-process against `url` (as in libs/orders' tests); `close` stops them gracefully. */
export const startApps = async <A, E>(url: string, name: string, env: Record<string, string>, services: Layer.Layer<A, E, any>, routes?: Layer.Layer<never, any, any>) => {
  const provider = ConfigProvider.fromMap(new Map(Object.entries({ NATS_URL: url, HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", OTEL_SDK_DISABLED: "true", LOG_LEVEL: "error", ...env })), { pathDelim: "_" })
    .pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
  const runtime = ManagedRuntime.make(orderApp(name, services, routes).pipe(L.provide(L.setConfigProvider(provider))) as Layer.Layer<any, unknown, never>)
  const server = await runtime.runPromise(HttpServer.HttpServer)
  const base = server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
  return { base, close: () => runtime.dispose() }
}

/** Debian's chromium (tools/ensure-prereqs.mjs --chromium installs it); Playwright downloads nothing. */
export const CHROMIUM = process.env["CHROMIUM_BIN"] ?? "/usr/bin/chromium"

/**
 * Headless, on a closed network: no sandbox (root in CI), no GPU, QUIC, first-run UI, background
 * networking, component updates or sync. Playwright gives each launch a fresh temporary profile
 * (its own --user-data-dir), removed when the browser closes.
 */
export const launchChromium = (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: run node tools/ensure-prereqs.mjs --chromium (apt-get install chromium), or set CHROMIUM_BIN`)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
}

export const OPERATOR = { user: "operator", password: "operator-password-1" }
export const VIEWER = { user: "viewer", password: "viewer-password-1" }
