import * as HttpServer from "@effect/platform/HttpServer"
import { commandSubject, encodeCommand, type OrderCommand, StreamNames } from "@conveyor/domain"
import type { JsonBucket } from "@conveyor/orchestration"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { headers, type NatsConnection } from "@nats-io/transport-node"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { expect } from "@effect/vitest"
import { eventually } from "@conveyor/testing"
import { perTestFile } from "@conveyor/testing/vitest"
import { holdsOf, orderApp, type Reservation, skuKey, type SkuStock } from "../src/index.js"

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

/** Publishes `command` on its subject under `msgId`, as the orchestrator's outbox would. */
export const sendCommand = (nc: NatsConnection, command: OrderCommand, msgId: string) => {
  const h = headers()
  h.set("Nats-Msg-Id", msgId)
  return jetstream(nc).publish(commandSubject(command), encodeCommand(command), { headers: h })
}

/** Waits until the events stream holds at least `count` events of `type` (the subject's last token, e.g. "stock-reserved"). */
export const eventsStored = (nc: NatsConnection, type: string, count: number, timeoutMs: number) =>
  eventually(async () => {
    const info = await (await jetstreamManager(nc)).streams.info(StreamNames.events, { subjects_filter: `orders.events.${type}` })
    return (info.state.subjects?.[`orders.events.${type}`] ?? 0) >= count ? true : undefined
  }, timeoutMs, `${count} ${type}`)

/**
 * A SKU's value and what each order holds of it (in the value, or by its reservation record once
 * the value dropped the entry), from every record in the bucket; checks free + held = `start`.
 */
export const skuLedger = async (stock: JsonBucket<SkuStock>, records: JsonBucket<Reservation>, sku: string, start: number) => {
  const value = (await Effect.runPromise(stock.get(skuKey(sku))))!.value
  const all = new Map<string, Reservation>()
  for await (const key of await stock.kv.keys("order.>")) {
    const record = await Effect.runPromise(records.get(key))
    if (record !== undefined) all.set(key.slice("order.".length), record.value)
  }
  const holds = Object.fromEntries(holdsOf(sku, value, all))
  expect(value.available + Object.values(holds).reduce((a, b) => a + b, 0)).toBe(start)
  return { value, holds, records: all }
}
