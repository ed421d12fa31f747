import * as HttpServer from "@effect/platform/HttpServer"
import { ConfigProvider, Layer, ManagedRuntime } from "effect"
import { consoleApp } from "../src/index.js"

export const OPERATOR = { user: "operator", password: "operator-password-1" }
export const VIEWER = { user: "viewer", password: "viewer-password-1" }

/** The console in-process on a free port of 127.0.0.1, against `natsUrl`; `close` stops it. */
export const startConsole = async (natsUrl: string, env: Record<string, string> = {}) => {
  const provider = ConfigProvider.fromMap(new Map(Object.entries({
    NATS_URL: natsUrl, CONSOLE_PORT: "0", OTEL_SDK_DISABLED: "true", LOG_LEVEL: "warn",
    CONSOLE_OPERATOR_PASSWORD: OPERATOR.password, CONSOLE_VIEWER_PASSWORD: VIEWER.password, ...env
  })), { pathDelim: "_" }).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
  const runtime = ManagedRuntime.make(consoleApp.pipe(Layer.provide(Layer.setConfigProvider(provider))) as Layer.Layer<any, unknown, never>)
  const server = await runtime.runPromise(HttpServer.HttpServer)
  const base = server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
  return { base, close: () => runtime.dispose() }
}

/** A cookie jar of one: enough for the console's session cookie. */
export class Client {
  cookie = ""
  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}) {
    const response = await fetch(`${this.base}${path}`, {
      ...init,
      redirect: "manual",
      headers: { ...(this.cookie !== "" ? { cookie: this.cookie } : {}), ...(init.headers as Record<string, string> | undefined) }
    })
    const set = response.headers.get("set-cookie")
    if (set !== null) this.cookie = set.split(";")[0]!
    return { status: response.status, headers: response.headers, text: await response.text() }
  }

  get = (path: string) => this.request(path)

  post = (path: string, fields: Record<string, string | ReadonlyArray<string>>, headers: Record<string, string> = {}) => {
    const body = new URLSearchParams()
    for (const [k, v] of Object.entries(fields)) for (const one of typeof v === "string" ? [v] : v) body.append(k, one)
    return this.request(path, { method: "POST", body: body.toString(), headers: { "content-type": "application/x-www-form-urlencoded", ...headers } })
  }

  /** The CSRF token in the last page's forms. */
  static csrfOf(page: string): string {
    const m = /name="csrf" value="([^"]+)"/.exec(page)
    if (m === null) throw new Error("no CSRF field on the page")
    return m[1]!
  }

  async login(who: { user: string; password: string }) {
    const page = await this.get("/login")
    const response = await this.post("/login", { csrf: Client.csrfOf(page.text), user: who.user, password: who.password, next: "/dead-letters" })
    if (response.status !== 303 || response.headers.get("location") !== "/dead-letters") throw new Error(`login failed: ${response.status}`)
    return response
  }
}
