import { Layer } from "effect"
import { layerJsonLogger } from "./logger.js"
import { layerMetrics } from "./metrics.js"
import { layerReadiness } from "./readiness.js"
import { layerTracingFromEnv } from "./tracing.js"

export interface TelemetryOptions {
  /** The app's name, used when OTEL_SERVICE_NAME is not set. */
  readonly serviceName?: string | undefined
}

/**
 * Everything an app needs from this library, configured from the environment: tracing (OTLP/HTTP when an
 * endpoint is set), the JSON logger, Metrics and Readiness. Add `layerOpsServer` to serve them over HTTP.
 * Spans still in the batch are flushed when the layer is released (on SIGTERM via NodeRuntime.runMain).
 */
export const layerTelemetry = (options?: TelemetryOptions) =>
  Layer.mergeAll(layerTracingFromEnv(options), layerJsonLogger(options), layerMetrics(options), layerReadiness())

export const TelemetryLive = layerTelemetry()
