// The demo: starts a local nats-server (unless NATS_URL is set), runs every app in this one process
// (gateway, orchestrator, inventory/payments/shipping workers, notifier), drives orders through the
// gateway with injected faults, declines, duplicate requests and poison messages, and prints a table.
// Exits 1 when an order did not finish or the counts do not reconcile. `--help` lists the flags.
import { LocalNatsCluster, LocalNatsProcess } from "@conveyor/testing"
import {
  GatewayLive, GatewayRoutesLive, InventoryWorkerLive, NotifierLive, OrchestratorLive, orderApp, PaymentsWorkerLive, ShippingWorkerLive
} from "@conveyor/orders"
import * as HttpServer from "@effect/platform/HttpServer"
import { redactString } from "@conveyor/telemetry"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { killLeaderNode } from "./cluster.js"
import { parseOptions, usage, UsageError } from "./options.js"
import { renderReport } from "./report.js"
import { runDemo } from "./run-demo.js"
import { STOCK } from "./orders.js"

const main = async (): Promise<number> => {
  const options = parseOptions(process.argv.slice(2), process.env)
  if (options === "help") {
    console.log(usage)
    return 0
  }
  if (options.cluster && process.env["NATS_URL"]) throw new UsageError("--cluster starts its own cluster: unset NATS_URL")
  const cluster = options.cluster ? await LocalNatsCluster.start() : undefined
  const local = process.env["NATS_URL"] || cluster ? undefined : await LocalNatsProcess.start()
  const url = process.env["NATS_URL"] ?? cluster?.url ?? local!.url
  console.log(
    cluster ? `started a three-node nats-server cluster on ${url} (topology at replicas 3)`
    : local ? `started nats-server on ${url} (store ${local.storeDir})`
    : `using NATS_URL=${redactString(url)}`
  )
  console.log(`driving ${options.orders} orders: payment faults ${Math.round(options.failureRate * 100)}%, declines, stock rejections, duplicate requests, poison messages`)
  const settings = new Map(Object.entries({
    NATS_URL: url, NATS_NAME: "conveyor-demo", HTTP_PORT: "0", HTTP_HOST: "127.0.0.1",
    PAYMENTS_FAILURE_RATE: String(options.failureRate), INVENTORY_DEFAULT_STOCK: String(STOCK),
    OTEL_SERVICE_NAME: process.env["OTEL_SERVICE_NAME"] ?? "conveyor-demo",
    // The apps' logs would bury the progress bar: errors only, unless asked for.
    LOG_LEVEL: process.env["LOG_LEVEL"] ?? process.env["DEMO_LOG_LEVEL"] ?? "error",
    ...(cluster ? { CONVEYOR_TOPOLOGY_REPLICAS: "3" } : {})
  }))
  // Flags above win; anything else (OTEL_*, ORDER_STEP_TIMEOUT_MS, ...) comes from the environment.
  const config = ConfigProvider.fromMap(settings, { pathDelim: "_" }).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
  const apps = Layer.mergeAll(GatewayLive, OrchestratorLive, InventoryWorkerLive, PaymentsWorkerLive, ShippingWorkerLive, NotifierLive)
  const layer = orderApp("demo", apps, GatewayRoutesLive).pipe(Layer.provide(Layer.setConfigProvider(config)))
  const runtime = ManagedRuntime.make(layer)
  try {
    const server = await runtime.runPromise(HttpServer.HttpServer)
    const base = server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
    console.log(`every app is running in this process; gateway and ops endpoints on ${base}`)
    const report = await runtime.runPromise(Effect.scoped(runDemo(base, options, console.log, cluster && killLeaderNode(cluster))))
    console.log(renderReport(report))
    return report.problems.length === 0 ? 0 : 1
  } finally {
    await runtime.dispose()
    await local?.stop()
    await cluster?.stop()
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) console.error(`${error.message}\n\n${usage}`)
    else console.error(redactString(error instanceof Error ? (error.stack ?? error.message) : String(error)))
    process.exit(error instanceof UsageError ? 2 : 1)
  }
)
