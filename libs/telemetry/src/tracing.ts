import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { context, propagation, trace } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanProcessor,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node"
import { Effect, Layer, Option, Tracer } from "effect"
import { randomUUID } from "node:crypto"
import { defaultTelemetryConfig, resolveServiceName, TelemetryConfig } from "./config.js"
import { layerOtelDiagnostics } from "./diagnostics.js"

export const makeSampler = (config: Pick<TelemetryConfig, "sampler" | "samplerRatio">): Sampler => {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio)
  switch (config.sampler) {
    case "always_on":
      return new AlwaysOnSampler()
    case "always_off":
      return new AlwaysOffSampler()
    case "traceidratio":
      return ratio
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio })
  }
}

export interface TracingOptions {
  readonly config: TelemetryConfig
  /** Used when neither OTEL_SERVICE_NAME nor `service.name` in OTEL_RESOURCE_ATTRIBUTES is set. */
  readonly serviceName?: string | undefined
  readonly spanProcessors: ReadonlyArray<SpanProcessor>
  /** How long shutdown waits for the last batch to leave. */
  readonly shutdownTimeoutMillis?: number | undefined
}

/**
 * Effect's OTel tracer without its per-step context hook: spans are the same OTel spans, but OTel
 * code running inside an Effect span does not see it as the active context (see `otelContext`).
 */
const tracerWithoutOtelContext = Layer.unwrapEffect(
  Effect.map(OtelTracer.make, (tracer) => Layer.setTracer(Tracer.make({ span: tracer.span, context: (execution) => execution() })))
)

/**
 * One tracer provider shared by Effect's tracer and by `@opentelemetry/api` users. It is registered
 * globally (tracer provider, AsyncLocalStorage context manager, W3C propagators) so that, with
 * `config.otelContext`, @effect/opentelemetry can hand the current Effect span to OTel code through the
 * global context API; without that, spans made by OTel-instrumented libraries start new traces.
 * Registration is undone on release, so a test can build the layer again; only one such layer should
 * live at a time.
 */
export const layerTracing = (options: TracingOptions): Layer.Layer<OtelResource.Resource> => {
  const { config } = options
  if (config.disabled) return OtelResource.layerEmpty
  // The SDK's own attributes (telemetry.sdk.name/language/version, required by the conventions), a
  // service.instance.id per process (OTEL_RESOURCE_ATTRIBUTES may set another), then the service's.
  const resource = Layer.succeed(
    OtelResource.Resource,
    defaultResource().merge(resourceFromAttributes({
      "service.instance.id": randomUUID(),
      ...config.resourceAttributes,
      "service.name": resolveServiceName(config, options.serviceName),
      ...Option.match(config.serviceVersion, { onNone: () => ({}), onSome: (version) => ({ "service.version": version }) })
    }))
  )
  const provider = Layer.scoped(
    OtelTracer.OtelTracerProvider,
    Effect.flatMap(OtelResource.Resource, (resource) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const provider = new NodeTracerProvider({
            resource,
            sampler: makeSampler(config),
            spanProcessors: [...options.spanProcessors]
          })
          provider.register()
          return provider
        }),
        (provider) =>
          Effect.promise(() => provider.forceFlush().then(() => provider.shutdown())).pipe(
            Effect.timeoutFail({
              duration: options.shutdownTimeoutMillis ?? 5_000,
              onTimeout: () => "timed out"
            }),
            Effect.catchAllCause((cause) => Effect.logWarning("flushing spans at shutdown failed; the last ones are lost", cause)),
            Effect.ensuring(
              Effect.sync(() => {
                trace.disable()
                context.disable()
                propagation.disable()
              })
            )
          )
      )
    )
  )
  // Diagnostics outlive the provider so that errors of its final flush are still reported.
  const tracer = config.otelContext ? OtelTracer.layer : Layer.provideMerge(tracerWithoutOtelContext, OtelTracer.layerTracer)
  return tracer.pipe(Layer.provide(provider), Layer.provideMerge(resource), Layer.provide(layerOtelDiagnostics))
}

/**
 * Tracing from the environment: OTLP/HTTP (JSON) to OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT through a
 * batching processor. Without an endpoint no SDK is installed: spans nobody exports cost a third of
 * a consumer's throughput, and trace context still passes through every hop (see `isTracing`).
 */
export const layerTracingFromEnv = (options?: { readonly serviceName?: string | undefined }) =>
  Layer.unwrapEffect(
    Effect.map(TelemetryConfig, (config) =>
      Option.match(config.tracesEndpoint, {
        onNone: () => OtelResource.layerEmpty,
        onSome: (url) =>
          layerTracing({
            config,
            serviceName: options?.serviceName,
            spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url, timeoutMillis: config.exportTimeoutMillis }), config.batch)],
            // Room for the last export to finish or time out on its own, so its error gets reported.
            shutdownTimeoutMillis: config.exportTimeoutMillis + 1_000
          })
      })
    )
  )

/**
 * For tests: every ended span lands synchronously in `exporter`. Read it before the layer is released:
 * shutting the provider down shuts the exporter down, which empties it.
 */
export const layerTracingInMemory = (
  exporter: InMemorySpanExporter,
  options?: { readonly serviceName?: string | undefined; readonly otelContext?: boolean | undefined }
): Layer.Layer<OtelResource.Resource> =>
  layerTracing({
    config: { ...defaultTelemetryConfig, sampler: "always_on", otelContext: options?.otelContext ?? false },
    serviceName: options?.serviceName ?? "test",
    spanProcessors: [new SimpleSpanProcessor(exporter)]
  })

export { InMemorySpanExporter }
