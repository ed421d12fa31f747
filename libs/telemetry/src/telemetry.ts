import { Layer } from "effect"
import { layerLogger } from "./logger.js"
import { layerMetrics } from "./metrics.js"
import { layerOpsServer } from "./ops-server.js"
import { layerReadiness } from "./readiness.js"
import { layerTracingFromEnv } from "./tracing.js"

export interface TelemetryOptions {
  /** The app's name, used when OTEL_SERVICE_NAME is not set. */
  readonly serviceName?: string | undefined
  /** Readiness checks that must be registered before /readyz passes (e.g. `natsReadinessChecks`). */
  readonly requiredChecks?: ReadonlyArray<string> | undefined
  /** The ops server's port when neither HTTP_PORT nor PORT is set (8080 unless given). */
  readonly defaultHttpPort?: number | undefined
}

/**
 * Everything an app needs from this library, configured from the environment: tracing (OTLP/HTTP when an
 * endpoint is set), the logger (`LOG_LEVEL`, `LOG_FORMAT`), Metrics and Readiness. Add `layerOpsServer` to serve them over HTTP.
 * Spans still in the batch are flushed when the layer is released (on SIGTERM via NodeRuntime.runMain).
 */
export const layerTelemetry = (options?: TelemetryOptions) =>
  Layer.mergeAll(layerTracingFromEnv(options), layerLogger(options), layerMetrics(options), layerReadiness({ required: options?.requiredChecks ?? [] }))

export const TelemetryLive = layerTelemetry()

/**
 * Telemetry plus the ops HTTP server, sharing one Metrics and one Readiness (build telemetry once: two
 * `layerTelemetry()` calls are two registries). `routes` are the app's own, e.g.
 * `HttpLayerRouter.add("POST", "/orders", placeOrder)`; they may use Metrics and Readiness.
 */
export const layerTelemetryWithOpsServer = <E = never, R = never>(options?: TelemetryOptions, routes?: Layer.Layer<never, E, R>) =>
  layerOpsServer(routes, options?.defaultHttpPort).pipe(Layer.provideMerge(layerTelemetry(options)))
