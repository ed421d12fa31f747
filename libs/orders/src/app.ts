import { JetStreamPublisherLive, NatsConnection, NatsConnectionFromEnv } from "@conveyor/nats"
import { layerTelemetryWithOpsServer, registerCheck } from "@conveyor/telemetry"
import { Effect, Layer } from "effect"
import { provisionOrderTopology } from "./runtime.js"
import { SettlementsLive } from "./settlements.js"

/** The connection (from `NATS_*`), the publisher, and the order topology ensured before anything opens a bucket. */
export const OrderInfraLive = Layer.effectDiscard(provisionOrderTopology).pipe(
  Layer.provideMerge(JetStreamPublisherLive),
  Layer.provideMerge(NatsConnectionFromEnv)
)

const NatsReadiness = Layer.scopedDiscard(Effect.flatMap(NatsConnection, (client) => registerCheck("nats-connected", client.isConnected)))

/**
 * An order app: its services (consumers) and HTTP routes, with telemetry and the ops server
 * (`/healthz`, `/readyz`, `/metrics` on `HTTP_PORT`) and one NATS connection. Launch it with
 * `Layer.launch`; releasing it stops the consumers gracefully and drains the connection.
 */
export const orderApp = <A, E, R, RE = never, RR = never>(
  serviceName: string,
  services: Layer.Layer<A, E, R>,
  routes?: Layer.Layer<never, RE, RR>
) =>
  Layer.mergeAll(services, NatsReadiness).pipe(
    Layer.provideMerge(layerTelemetryWithOpsServer({ serviceName }, routes)),
    Layer.provideMerge(SettlementsLive),
    Layer.provideMerge(OrderInfraLive)
  )
