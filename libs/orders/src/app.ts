import { type AppName, appAccess, appNames, orderTopology, StreamNames } from "@conveyor/domain"
import {
  consumerCheckName, ensureTopology, JetStreamPublisherLive, launchSupervised, layerQueueMetrics, NatsChecks, natsConfig, NatsConnectionFromEnv,
  NatsReadinessLive, runMain, SuperviseConnectionLive
} from "@conveyor/nats"
import { layerOpsServer, layerTelemetry, opsServerConfig, TelemetryConfig } from "@conveyor/telemetry"
import { replicatedTopology } from "@conveyor/topology"
import { Config, Effect, Layer, Schedule } from "effect"
import { ConsumerConfig, SettlementsLive } from "./consumers.js"
import { GatewayRoutesLive } from "./gateway-http.js"
import { InventoryWorkerLive } from "./inventory.js"
import { NotifierLive } from "./notifier.js"
import { OrchestratorLive } from "./orchestrator.js"
import { PaymentsWorkerLive } from "./payments.js"
import { ShippingWorkerLive } from "./shipping.js"
import { defaultHttpPorts, type OrderAppName } from "./ports.js"

/**
 * Creates or updates the order topology unless `CONVEYOR_ENSURE_TOPOLOGY=false` (when a separate
 * provisioning identity owns it), with every stream and bucket on `CONVEYOR_TOPOLOGY_REPLICAS`
 * nodes (default 1; 3 on a three-node cluster). Several apps starting at once race to create the
 * same streams, so a failure is retried a few times before it stops start-up.
 */
export const provisionOrderTopology = Effect.gen(function* () {
  const enabled = yield* Config.boolean("CONVEYOR_ENSURE_TOPOLOGY").pipe(Config.withDefault(true))
  if (!enabled) return
  const replicas = yield* Config.integer("CONVEYOR_TOPOLOGY_REPLICAS").pipe(Config.withDefault(1), Config.validate({ message: "must be 1 to 5", validation: (n) => n >= 1 && n <= 5 }))
  yield* ensureTopology(replicatedTopology(orderTopology, replicas)).pipe(
    Effect.retry({ times: 5, schedule: Schedule.spaced("500 millis") })
  )
})


/** The connection (from `NATS_*`), the publisher, and the order topology ensured before anything opens a bucket. */
export const OrderInfraLive = Layer.effectDiscard(provisionOrderTopology).pipe(
  Layer.provideMerge(JetStreamPublisherLive),
  Layer.provideMerge(NatsConnectionFromEnv)
)


/** `/readyz` passes once connected and once every durable these apps consume from is being pulled. */
export const requiredChecksOf = (apps: ReadonlyArray<AppName>): ReadonlyArray<string> => [
  NatsChecks.connected,
  ...apps.flatMap((app) => appAccess[app].consumes.map((c) => consumerCheckName(`${c.stream}/${c.durable}`)))
]

/**
 * An order app: its services (consumers) and HTTP routes, with telemetry and the ops server
 * (`/healthz`, `/readyz`, `/metrics` on `HTTP_PORT`) and one NATS connection. Launch it with
 * `runMain(Layer.launch(...))`; releasing it stops the consumers gracefully and drains the connection.
 * `readyWhen` names the apps whose durables must be pulling for `/readyz` and whose lag `/metrics`
 * reports (default: `serviceName`).
 */
export const orderApp = <A, E, R, RE = never, RR = never>(
  serviceName: string,
  services: Layer.Layer<A, E, R>,
  routes?: Layer.Layer<never, RE, RR>,
  readyWhen: ReadonlyArray<AppName> = appNames.filter((a) => a === serviceName)
) => {
  const consumers = readyWhen.flatMap((app) => appAccess[app].consumes)
  return Layer.mergeAll(
    services,
    NatsReadinessLive,
    SuperviseConnectionLive,
    // Lag of the app's own durables and, for apps that consume (so dead-letter), the dead-letter
    // depth, in total and from each of its durables; their NATS users may read that stream's info.
    layerQueueMetrics({ consumers, deadLetterStreams: consumers.length > 0 ? [StreamNames.deadLetters] : [] })
  ).pipe(
    Layer.provideMerge(layerOpsServer(routes, defaultHttpPorts[serviceName as OrderAppName])),
    Layer.provideMerge(SettlementsLive),
    Layer.provideMerge(OrderInfraLive),
    // Below the connection and the publisher, so publishes are timed (gateway, orchestrator outbox).
    Layer.provideMerge(layerTelemetry({ serviceName, requiredChecks: requiredChecksOf(readyWhen) }))
  )
}

/**
 * Below the pods' terminationGracePeriodSeconds (30 s, deploy/scripts/manifests.ts) minus the
 * gateway's 5 s preStop, which counts towards it, and above the consumers' 10 s shutdown grace
 * plus the drain: the app gives up by itself before Kubernetes' SIGKILL comes.
 */
export const FORCE_EXIT_AFTER_MS = 20_000

type Variable = readonly [name: string, fallback: string, meaning: string]

const consumerVariables: ReadonlyArray<Variable> = [
  ["CONSUMER_CONCURRENCY", "32", "handlers running at once"],
  ["RETRY_MAX_ATTEMPTS", "10", "deliveries before a message is dead-lettered"],
  ["RETRY_INITIAL_DELAY_MS", "200", "first redelivery delay"],
  ["RETRY_MAX_DELAY_MS", "5000", "longest redelivery delay"],
  ["HANDLER_TIMEOUT_MS", "60000", "a handler still running after this is interrupted and retried"]
]

const ownVariables: Readonly<Record<OrderAppName, ReadonlyArray<Variable>>> = {
  gateway: [["GATEWAY_MAX_BODY_BYTES", "16384", "larger request bodies get 413"]],
  orchestrator: [
    ...consumerVariables,
    ["ORDER_STEP_TIMEOUT_MS", "30000", "how long a step waits for its answer before re-sending"],
    ["ORDER_MAX_ATTEMPTS", "3", "sends of a forward step before compensating"],
    ["TIMER_POLL_MS", "200", "how often due timers are looked for"]
  ],
  "inventory-worker": [...consumerVariables, ["INVENTORY_DEFAULT_STOCK", "1000000", "units a SKU starts with the first time it is seen"]],
  "payments-worker": [
    ...consumerVariables,
    ["PAYMENTS_FAILURE_RATE", "0", "probability (0..1) that a capture fails transiently"],
    ["PAYMENTS_DECLINE_ABOVE_CENTS", "unset", "captures above this amount are declined"],
    ["PAYMENTS_DECLINE_CUSTOMER_PREFIX", "decline-", "customers whose id starts with it are declined"]
  ],
  "shipping-worker": consumerVariables,
  notifier: [...consumerVariables, ["NOTIFIER_IDEMPOTENCY", "true", "de-duplicate notifications per message id"]]
}

const commonVariables = (app: OrderAppName): ReadonlyArray<Variable> => [
  ["NATS_URL", "nats://127.0.0.1:4222", "comma-separated; nats://user:password@host also works"],
  ["NATS_USER, NATS_PASSWORD", "unset", "credentials (or NATS_TOKEN, or NATS_CREDS: a creds file)"],
  ["NATS_TLS_CA", "unset", "CA certificate for TLS"],
  ["NATS_CONNECT_TIMEOUT", "30s", "how long start-up retries an unreachable server (5000, 5s, 2m)"],
  ["NATS_RECONNECT_FOR", "2m", "how long a lost connection is retried before the app exits 1"],
  ["HTTP_PORT (else PORT)", String(defaultHttpPorts[app]), `/healthz, /readyz, /metrics${app === "gateway" ? " and the order API" : ""}`],
  ["HTTP_HOST", "0.0.0.0", "interface to listen on"],
  ["LOG_LEVEL", "info", "trace, debug, info, warn, error, fatal, none"],
  ["LOG_FORMAT", "pretty on a terminal, else json", "json or pretty"],
  ["CONVEYOR_ENSURE_TOPOLOGY", "true", "create or update the order streams, durables and buckets at start-up"],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "unset", "send traces over OTLP/HTTP (and the other OTEL_* variables)"]
]

const exitCodes = "Exit codes: 0 stopped by a signal, 1 failed while running, 2 invalid variable or HTTP port in use,\n  3 NATS unreachable, 4 NATS refused the credentials, 130 a second signal."

/** Every order app: what `--help` says it does, and what it runs (its consumers, the gateway's routes). */
const orderApps: Readonly<Record<OrderAppName, { readonly description: string; readonly layer: () => Layer.Layer<never, unknown> }>> = {
  gateway: {
    description: "HTTP ingress: POST /orders publishes OrderPlaced; GET /orders/:id shows state and history.",
    layer: () => orderApp("gateway", Layer.empty, GatewayRoutesLive)
  },
  orchestrator: {
    description:
      "Runs the order workflow: consumes the events it handles (durable `orchestrator`), advances instances in the `order-workflows` bucket with compare-and-set, sends commands to the workers and emits the order's outcome, fires step timeouts from the `order-timers` bucket.",
    layer: () => orderApp("orchestrator", OrchestratorLive)
  },
  "inventory-worker": {
    description: "Executes ReserveStock / ReleaseStock (durable `inventory-worker`), once per order, keeping stock in the `inventory-stock` bucket.",
    layer: () => orderApp("inventory-worker", InventoryWorkerLive)
  },
  "payments-worker": {
    description:
      "Executes CapturePayment / RefundPayment (durable `payments-worker`), once per order, recording the `payments-ledger` bucket; injects faults for the demo.",
    layer: () => orderApp("payments-worker", PaymentsWorkerLive)
  },
  "shipping-worker": {
    description: "Executes ScheduleShipment / RecallShipment (durable `shipping-worker`), once per order, recorded in the `shipments` bucket.",
    layer: () => orderApp("shipping-worker", ShippingWorkerLive)
  },
  notifier: {
    description: "Publish-subscribe: its own durable `notifier` on the order outcomes (OrderCompleted, OrderCancelled); counts and logs (debug) one customer notification per order.",
    layer: () => orderApp("notifier", NotifierLive)
  }
}

/** What `<app> --help` prints: the app's variables with their defaults, and the exit codes. */
export const appHelp = (app: OrderAppName, description: string): string => {
  const rows = [...commonVariables(app), ...ownVariables[app]]
  const width = Math.max(...rows.map(([name]) => name.length))
  const lines = rows.map(([name, fallback, meaning]) => `  ${name.padEnd(width)}  ${meaning} (default: ${fallback})`)
  return `${app}: ${description}\n\nUsage: npx nx run ${app}:serve, or node dist/main.js, configured by the environment:\n\n${lines.join("\n")}\n\n${exitCodes}\n`
}

/**
 * An order app's whole `main` (`runOrderApp("gateway")`): the app (its `orderApp`) supervised, so a
 * consumer or the connection that stops for good ends the process with exit 1; `--help` prints the
 * app's variables; SIGTERM stops it gracefully.
 */
export const runOrderApp = (app: OrderAppName): void =>
  runMain(Effect.zipRight(settingsOf(app), launchSupervised(orderApps[app].layer())), {
    serviceName: app,
    help: appHelp(app, orderApps[app].description),
    forceExitAfterMs: FORCE_EXIT_AFTER_MS
  })

/** Every shared variable, read before anything connects: a typo fails at once (exit 2), not after the connect timeout. */
const settingsOf = (app: OrderAppName) => Effect.all([natsConfig, opsServerConfig(defaultHttpPorts[app]), TelemetryConfig, ConsumerConfig])
