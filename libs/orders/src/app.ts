import { type AppName, appAccess, appNames, StreamNames } from "@conveyor/domain"
import { consumerCheckName, JetStreamPublisherLive, layerQueueMetrics, NatsChecks, NatsConnectionFromEnv, NatsReadinessLive, SuperviseConnectionLive } from "@conveyor/nats"
import { layerOpsServer, layerTelemetry } from "@conveyor/telemetry"
import { Layer } from "effect"
import { provisionOrderTopology } from "./runtime.js"
import { SettlementsLive } from "./settlements.js"

/** The connection (from `NATS_*`), the publisher, and the order topology ensured before anything opens a bucket. */
export const OrderInfraLive = Layer.effectDiscard(provisionOrderTopology).pipe(
  Layer.provideMerge(JetStreamPublisherLive),
  Layer.provideMerge(NatsConnectionFromEnv)
)

export type OrderAppName = Exclude<AppName, "ctl" | "console">

/**
 * Each app's own HTTP port when neither HTTP_PORT nor PORT is set, so every app can run on one
 * machine at once (`npm run dev`). Containers set HTTP_PORT=8080 themselves.
 */
export const defaultHttpPorts: Readonly<Record<OrderAppName, number>> = {
  gateway: 8080,
  orchestrator: 8081,
  "inventory-worker": 8082,
  "payments-worker": 8083,
  "shipping-worker": 8084,
  notifier: 8085
}

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
