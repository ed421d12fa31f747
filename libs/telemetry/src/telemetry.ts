import { Layer } from "effect"
import { layerJsonLogger } from "./logger.js"
import { layerMetrics } from "./metrics.js"
import { layerOpsServer } from "./ops-server.js"
import { layerReadiness } from "./readiness.js"
import { layerTracingFromEnv } from "./tracing.js"

export interface TelemetryOptions {
  /** The app's name, used when OTEL_SERVICE_NAME is not set. */
  readonly serviceName?: string | undefined
  /** Readiness checks that must be registered before /readyz passes (e.g. `natsReadinessChecks`). */
  readonly requiredChecks?: ReadonlyArray<string> | undefined
}

/**
 * Everything an app needs from this library, configured from the environment: tracing (OTLP/HTTP when an
 * endpoint is set), the JSON logger, Metrics and Readiness. Add `layerOpsServer` to serve them over HTTP.
 * Spans still in the batch are flushed when the layer is released (on SIGTERM via NodeRuntime.runMain).
 */
export const layerTelemetry = (options?: TelemetryOptions) =>
  Layer.mergeAll(layerTracingFromEnv(options), layerJsonLogger(options), layerMetrics(options), layerReadiness({ required: options?.requiredChecks ?? [] }))

export const TelemetryLive = layerTelemetry()

/**
 * Telemetry plus the ops HTTP server, sharing one Metrics and one Readiness (build telemetry once: two
 * `layerTelemetry()` calls are two registries). `routes` are the app's own, e.g.
 * `HttpLayerRouter.add("POST", "/orders", placeOrder)`; they may use Metrics and Readiness.
 */
export const layerTelemetryWithOpsServer = <E = never, R = never>(options?: TelemetryOptions, routes?: Layer.Layer<never, E, R>) =>
  layerOpsServer(routes).pipe(Layer.provideMerge(layerTelemetry(options)))
