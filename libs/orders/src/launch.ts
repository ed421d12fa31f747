import { launchSupervised, natsConfig, runMain } from "@conveyor/nats"
import { opsServerConfig, TelemetryConfig } from "@conveyor/telemetry"
import { Effect, type Layer } from "effect"
import { ConsumerConfig } from "./runtime.js"
import { defaultHttpPorts, type OrderAppName } from "./app.js"

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

/** What `<app> --help` prints: the app's variables with their defaults, and the exit codes. */
export const appHelp = (app: OrderAppName, description: string): string => {
  const rows = [...commonVariables(app), ...ownVariables[app]]
  const width = Math.max(...rows.map(([name]) => name.length))
  const lines = rows.map(([name, fallback, meaning]) => `  ${name.padEnd(width)}  ${meaning} (default: ${fallback})`)
  return `${app}: ${description}\n\nUsage: npx nx run ${app}:serve, or node dist/main.js, configured by the environment:\n\n${lines.join("\n")}\n\n${exitCodes}\n`
}

/**
 * An order app's whole `main`: `app` (an `orderApp`) supervised, so a consumer or the connection
 * that stops for good ends the process with exit 1; `--help` prints the app's variables; SIGTERM
 * stops it gracefully.
 */
export const runOrderApp = <A, E>(app: OrderAppName, description: string, layer: Layer.Layer<A, E>): void =>
  runMain(Effect.zipRight(settingsOf(app), launchSupervised(layer)), { serviceName: app, help: appHelp(app, description), forceExitAfterMs: FORCE_EXIT_AFTER_MS })

/** Every shared variable, read before anything connects: a typo fails at once (exit 2), not after the connect timeout. */
const settingsOf = (app: OrderAppName) => Effect.all([natsConfig, opsServerConfig(defaultHttpPorts[app]), TelemetryConfig, ConsumerConfig])
