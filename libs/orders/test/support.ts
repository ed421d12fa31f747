import * as HttpServer from "@effect/platform/HttpServer"
import { ConfigProvider, Layer, ManagedRuntime } from "effect"
import { eventually } from "@conveyor/testing"
import { perTestFile } from "@conveyor/testing/vitest"
import { orderApp } from "../src/index.js"

/** Builds an order app in-process against `url` with extra environment; `close` releases it. */
export const startStack = async <A, E>(
  url: string,
  env: Record<string, string>,
  services: Layer.Layer<A, E, any>,
  routes?: Layer.Layer<never, any, any>,
  serviceName = "test"
) => {
  const provider = ConfigProvider.fromMap(new Map(Object.entries({ NATS_URL: url, HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", OTEL_SDK_DISABLED: "true", ...env })), { pathDelim: "_" })
    .pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
  const layer = orderApp(serviceName, services, routes).pipe(Layer.provide(Layer.setConfigProvider(provider)))
  const runtime = ManagedRuntime.make(layer as Layer.Layer<any, unknown, never>)
  const server = await runtime.runPromise(HttpServer.HttpServer)
  const address = server.address
  const base = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  return { runtime, base, close: () => runtime.dispose() }
}

/**
 * One in-process stack per test file on the file's server (see `startStack`): built in `beforeAll`,
 * released in `afterAll`. Read `base` and `runtime` inside tests.
 */
export const useStack = <A, E>(
  server: { readonly url: string },
  env: Record<string, string>,
  services: Layer.Layer<A, E, any>,
  routes?: Layer.Layer<never, any, any>
) => {
  const get = perTestFile(() => startStack(server.url, env, services, routes), (stack) => stack.close(), "useStack: the stack is not started yet (read it inside a test or hook)")
  return {
    get base() { return get().base },
    get runtime() { return get().runtime }
  }
}

export const postOrder = async (base: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${base}/orders`, {
    method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body)
  })
  return { status: response.status, body: (await response.json()) as any }
}

export const getOrder = async (base: string, id: string) => {
  const response = await fetch(`${base}/orders/${id}`)
  return { status: response.status, body: (await response.json()) as any }
}

export const terminal = (base: string, id: string, timeoutMs = 30_000) =>
  eventually(async () => {
    const r = await getOrder(base, id)
    return r.body.status === "completed" || r.body.status === "cancelled" ? r.body : undefined
  }, timeoutMs, `order ${id} to finish`)

export const order = (orderId: string, customerId = "c-1", items = [{ sku: "widget", quantity: 2, unitPriceCents: 500 }]) => ({ orderId, customerId, items })
