import { Config, ConfigError, Either, Option } from "effect"

/**
 * Telemetry settings read from the standard OTEL_* variables, so the same deployment manifests work
 * with any OpenTelemetry-aware collector. Everything is validated at start-up: a typo in a sampler
 * name fails the boot with a message instead of silently sampling everything.
 */
export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio"

const samplerNames: ReadonlyArray<SamplerName> = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio"
]

export interface TelemetryConfig {
  readonly disabled: boolean
  /** OTEL_SERVICE_NAME, else `service.name` from OTEL_RESOURCE_ATTRIBUTES; none lets the app's default apply. */
  readonly serviceName: Option.Option<string>
  readonly serviceVersion: Option.Option<string>
  readonly resourceAttributes: Readonly<Record<string, string>>
  /** Full URL of the OTLP/HTTP traces endpoint; without one no spans are made (context still propagates). */
  readonly tracesEndpoint: Option.Option<string>
  /** How long one export may take (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT). */
  readonly exportTimeoutMillis: number
  /** OTEL_BSP_*: the batching span processor's settings (the SDK no longer reads them itself). */
  readonly batch: { readonly scheduledDelayMillis: number; readonly maxQueueSize: number; readonly maxExportBatchSize: number }
  readonly sampler: SamplerName
  readonly samplerRatio: number
  /**
   * CONVEYOR_OTEL_CONTEXT: make the current Effect span the active OTel context while each fiber runs,
   * so spans of OTel-instrumented libraries (http, pg...) nest under it. Off by default: it runs every
   * fiber step inside `context.with` (AsyncLocalStorage), which cost the runner a fifth of its rate
   * with tracing on, and Conveyor itself needs no such library.
   */
  readonly otelContext: boolean
}

/** What an empty environment configures; the in-memory test layer and the bench start from it. */
export const defaultTelemetryConfig: TelemetryConfig = {
  disabled: false,
  serviceName: Option.none(),
  serviceVersion: Option.none(),
  resourceAttributes: {},
  tracesEndpoint: Option.none(),
  exportTimeoutMillis: 10_000,
  batch: { scheduledDelayMillis: 5_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
  sampler: "parentbased_always_on",
  samplerRatio: 1,
  otelContext: false
}

const url = (name: string) =>
  Config.string(name).pipe(
    Config.validate({
      message: `${name} must be an absolute http(s) URL, e.g. http://jaeger:4318`,
      validation: (s) => {
        try {
          return ["http:", "https:"].includes(new URL(s).protocol)
        } catch {
          return false
        }
      }
    }),
    Config.option
  )

/** W3C Baggage-style `k=v,k2=v2` with percent-encoded values, as the OTel spec defines it. */
export const parseResourceAttributes = (raw: string): Either.Either<Record<string, string>, string> => {
  const out: Record<string, string> = {}
  for (const pair of raw.split(",")) {
    if (pair.trim() === "") continue
    const eq = pair.indexOf("=")
    const key = eq > 0 ? pair.slice(0, eq).trim() : ""
    if (key === "") return Either.left(`OTEL_RESOURCE_ATTRIBUTES: "${pair}" is not key=value`)
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      return Either.left(`OTEL_RESOURCE_ATTRIBUTES: the value of "${key}" is not valid percent-encoding`)
    }
  }
  return Either.right(out)
}

const resourceAttributes = Config.string("OTEL_RESOURCE_ATTRIBUTES").pipe(
  Config.withDefault(""),
  Config.mapOrFail((raw) =>
    Either.mapLeft(parseResourceAttributes(raw), (message) => ConfigError.InvalidData(["OTEL_RESOURCE_ATTRIBUTES"], message))
  )
)

const sampler = Config.string("OTEL_TRACES_SAMPLER").pipe(
  Config.withDefault(defaultTelemetryConfig.sampler),
  Config.map((s) => s.trim().toLowerCase()),
  Config.validate({
    message: `OTEL_TRACES_SAMPLER must be one of ${samplerNames.join(", ")}`,
    validation: (s): s is SamplerName => (samplerNames as ReadonlyArray<string>).includes(s)
  })
)

const samplerRatio = Config.number("OTEL_TRACES_SAMPLER_ARG").pipe(
  Config.withDefault(defaultTelemetryConfig.samplerRatio),
  Config.validate({ message: "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1", validation: (n) => n >= 0 && n <= 1 })
)

const positiveInt = (name: string) =>
  Config.integer(name).pipe(Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 }))

const positive = (name: string, fallback: number) => positiveInt(name).pipe(Config.withDefault(fallback))

const batch = Config.all({
  scheduledDelayMillis: positive("OTEL_BSP_SCHEDULE_DELAY", defaultTelemetryConfig.batch.scheduledDelayMillis),
  maxQueueSize: positive("OTEL_BSP_MAX_QUEUE_SIZE", defaultTelemetryConfig.batch.maxQueueSize),
  maxExportBatchSize: positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", defaultTelemetryConfig.batch.maxExportBatchSize)
})

/**
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used verbatim; the generic `OTEL_EXPORTER_OTLP_ENDPOINT` gets
 * `/v1/traces` appended, as the OTLP exporter spec says.
 */
const tracesEndpoint = Config.all([url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), url("OTEL_EXPORTER_OTLP_ENDPOINT")]).pipe(
  Config.map(([traces, base]) =>
    Option.orElse(traces, () => Option.map(base, (b) => `${b.replace(/\/+$/, "")}/v1/traces`))
  )
)

export const TelemetryConfig: Config.Config<TelemetryConfig> = Config.all({
  disabled: Config.boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
  serviceName: Config.option(Config.nonEmptyString("OTEL_SERVICE_NAME")),
  serviceVersion: Config.option(Config.nonEmptyString("OTEL_SERVICE_VERSION")),
  resourceAttributes,
  tracesEndpoint,
  exportTimeoutMillis: positiveInt("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").pipe(
    Config.orElse(() => positive("OTEL_EXPORTER_OTLP_TIMEOUT", defaultTelemetryConfig.exportTimeoutMillis))
  ),
  batch,
  sampler,
  samplerRatio,
  otelContext: Config.boolean("CONVEYOR_OTEL_CONTEXT").pipe(Config.withDefault(defaultTelemetryConfig.otelContext))
})

/** OTEL_SERVICE_NAME, else `service.name` in OTEL_RESOURCE_ATTRIBUTES, else the app's default, else the spec's. */
export const resolveServiceName = (config: TelemetryConfig, fallback?: string | undefined): string =>
  Option.getOrElse(config.serviceName, () => config.resourceAttributes["service.name"] ?? fallback ?? "unknown_service:node")
