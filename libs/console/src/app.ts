import { NatsChecks, NatsConnectionFromEnv, NatsReadinessLive, natsConfig, runMain, launchSupervised, SuperviseConnectionLive } from "@conveyor/nats"
import { layerTelemetry, makeGracefulServer, OpsRoutes, TelemetryConfig } from "@conveyor/telemetry"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer } from "effect"
import { ConsoleConfig, DEFAULT_CONSOLE_PORT } from "./config.js"
import { ConsoleRoutes } from "./routes.js"
import { ConsoleLive } from "./state.js"

/** The HTTP server on CONSOLE_HOST:CONSOLE_PORT (127.0.0.1:8090 by default), stopping gracefully. */
const ConsoleServerLive = Layer.unwrapEffect(
  Effect.map(ConsoleConfig, (config) => NodeHttpServer.layer(makeGracefulServer, { host: config.host, port: config.port }))
)

/**
 * The console: its pages and the ops routes (`/healthz`, `/readyz`, `/metrics`) on one port, one
 * NATS connection as its own user, telemetry. Releasing it closes the server and drains the connection.
 */
export const consoleApp = HttpLayerRouter.serve(Layer.merge(OpsRoutes, ConsoleRoutes), { disableLogger: true }).pipe(
  HttpMiddleware.withTracerDisabledWhen(() => true),
  Layer.provideMerge(ConsoleServerLive),
  Layer.provideMerge(Layer.mergeAll(ConsoleLive, NatsReadinessLive, SuperviseConnectionLive)),
  Layer.provideMerge(NatsConnectionFromEnv),
  Layer.provideMerge(layerTelemetry({ serviceName: "console", requiredChecks: [NatsChecks.connected] }))
)

const help = `console: the operator web console: queues and lag, dead letters with grouped replay, workflows, topology drift.

Usage: npx nx run console:serve, or node dist/main.js, configured by the environment:

  CONSOLE_HOST                 interface to listen on (default: 127.0.0.1)
  CONSOLE_PORT (else HTTP_PORT) port (default: ${DEFAULT_CONSOLE_PORT}; 0 picks a free one)
  CONSOLE_OPERATOR_USER        name of the operator login (default: operator)
  CONSOLE_OPERATOR_PASSWORD    its password, 8+ characters: may replay and purge (one of the two passwords is required)
  CONSOLE_VIEWER_USER          name of the read-only login (default: viewer)
  CONSOLE_VIEWER_PASSWORD      its password, 8+ characters: reads only
  CONSOLE_SECURE_COOKIE        true: mark the session cookie Secure (serve behind TLS) (default: false)
  CONSOLE_SESSION_TTL_MS       session lifetime (default: 8 hours)
  CONSOLE_READYZ_URLS          apps whose readiness the overview shows: name=http://host:port/readyz,... (default: none)
  CONSOLE_JAEGER_URL           Jaeger UI base URL for trace links, e.g. http://localhost:16686 (default: unset, ids only)
  CONSOLE_DLQ_STREAM           dead-letter stream (default: DEAD_LETTERS)
  CONSOLE_WORKFLOW_BUCKET      workflow instances bucket (default: order-workflows)
  NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_TLS_CA, NATS_CONNECT_TIMEOUT, NATS_RECONNECT_FOR
  LOG_LEVEL, LOG_FORMAT, OTEL_*  as for every app

Exit codes: 0 stopped by a signal, 1 failed while running, 2 invalid variable or port in use,
  3 NATS unreachable, 4 NATS refused the credentials, 130 a second signal.
`

/** The console's whole `main`: variables checked first (exit 2), then served until SIGTERM. */
export const runConsole = (): void =>
  runMain(Effect.zipRight(Effect.all([ConsoleConfig, natsConfig, TelemetryConfig]), launchSupervised(consoleApp)), {
    serviceName: "console",
    help,
    forceExitAfterMs: 20_000
  })
