import { Cause, Config, ConfigError, Context, Either, Effect, FiberRef, FiberRefs, HashMap, HashSet, Layer, List, Logger, LogLevel, Option, Tracer } from "effect"
import { resolveServiceName, TelemetryConfig } from "./config.js"
import { redact, type RedactOptions, redactString } from "./redact.js"

export interface JsonLoggerOptions extends RedactOptions {
  readonly serviceName: string
  /** Where lines go; stdout by default (one JSON object per line, what log shippers expect). */
  readonly write?: ((line: string) => void) | undefined
}

const currentSpan = (refs: FiberRefs.FiberRefs): Option.Option<Tracer.AnySpan> =>
  Context.getOption(FiberRefs.getOrDefault(refs, FiberRef.currentContext), Tracer.ParentSpan)

/** `Effect.logError(cause)` logs no message: the cause's first line stands in for it. */
const messagesOf = (message: unknown, cause: Cause.Cause<unknown>): ReadonlyArray<unknown> => {
  const messages = Array.isArray(message) ? message : [message]
  if (messages.length > 0 || Cause.isEmpty(cause)) return messages
  return [firstLine(cause)]
}

/** The failure's own message, without the stack: what an operator reads first. */
export const firstLine = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) return String((error as { message: unknown }).message)
  return Cause.pretty(cause).split("\n")[0] ?? "failed"
}

const levelName = (level: LogLevel.LogLevel) => (level._tag === "Warning" ? "warn" : level.label.toLowerCase())

/**
 * One JSON object per line with `trace_id`/`span_id` of the current span (so a log line opens its trace in
 * Jaeger), the service, level, message and the fiber's annotations, everything passed through `redact`.
 */
export const makeJsonLogger = (options: JsonLoggerOptions): Logger.Logger<unknown, void> => {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`))
  return Logger.make(({ annotations, cause, context, date, logLevel, message, spans }) => {
    const messages = messagesOf(message, cause)
    const entry: Record<string, unknown> = {
      timestamp: date.toISOString(),
      level: levelName(logLevel),
      service: options.serviceName,
      message: messages.length === 1 && typeof messages[0] === "string" ? redactString(messages[0]) : redact(messages.length === 1 ? messages[0] : messages, options)
    }
    const span = currentSpan(context)
    if (Option.isSome(span)) {
      entry.trace_id = span.value.traceId
      entry.span_id = span.value.spanId
    }
    if (HashMap.size(annotations) > 0) {
      entry.annotations = redact(Object.fromEntries(HashMap.toEntries(annotations)), options)
    }
    if (!Cause.isEmpty(cause)) entry.cause = redactString(Cause.pretty(cause, { renderErrorCause: true }))
    const now = date.getTime()
    if (List.isCons(spans)) entry.spans = Object.fromEntries(List.toArray(spans).map((s) => [s.label, now - s.startTime]))
    let line: string
    try {
      line = JSON.stringify(entry)
    } catch {
      line = JSON.stringify({ ...entry, message: String(entry.message), annotations: "[unserialisable]" })
    }
    write(line)
  })
}

/**
 * The loggers `layerJsonLogger` and `layerLogger` installed. Each replaces Effect's default logger
 * and any app logger installed before it: `Logger.replace(Logger.defaultLogger, …)` a second time
 * (an app's telemetry layer inside `runMain`, which installs one for its own lines) found no default
 * logger left to replace and added a second logger, so every line was written twice.
 */
const appLoggers = new WeakSet<Logger.Logger<unknown, unknown>>()
const installAppLogger = (logger: Logger.Logger<unknown, unknown>): Layer.Layer<never> => {
  appLoggers.add(logger)
  return Layer.scopedDiscard(
    Effect.locallyScopedWith(FiberRef.currentLoggers, (loggers) =>
      HashSet.add(HashSet.filter(loggers, (l) => l !== Logger.defaultLogger && !appLoggers.has(l)), logger))
  )
}

/** Replaces Effect's default logger; the service name comes from OTEL_SERVICE_NAME like the traces'. */
export const layerJsonLogger = (options?: Omit<JsonLoggerOptions, "serviceName"> & { readonly serviceName?: string | undefined }) =>
  Layer.unwrapEffect(
    Effect.map(TelemetryConfig, (config) =>
      installAppLogger(
        makeJsonLogger({
          ...options,
          serviceName: resolveServiceName(config, options?.serviceName)
        })
      )
    )
  )

export type LogFormat = "json" | "pretty"

export interface LogSettings {
  readonly level: LogLevel.LogLevel
  readonly format: LogFormat
}

const levels: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None,
  off: LogLevel.None
}

/**
 * `LOG_LEVEL` (trace, debug, info (default), warn, error, fatal, none) and `LOG_FORMAT` (`json`, the
 * default when stdout is not a terminal, as in containers; `pretty`, the default on a terminal).
 */
export const LogSettings: Config.Config<LogSettings> = Config.all({
  level: Config.string("LOG_LEVEL").pipe(
    // mapOrFail right on the variable keeps its name in the error
    Config.mapOrFail((s) =>
      Either.fromOption(Option.fromNullable(levels[s.trim().toLowerCase()]), () => ConfigError.InvalidData([], "must be one of trace, debug, info, warn, error, fatal, none"))
    ),
    Config.withDefault(LogLevel.Info)
  ),
  format: Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault<LogFormat>(process.stdout.isTTY ? "pretty" : "json"))
})

const colours: Record<string, string> = { trace: "90", debug: "90", info: "32", warn: "33", error: "31", fatal: "31" }

/** `LOG_FORMAT=pretty`: one readable line (time, level, message, annotations), redacted like the JSON one. */
export const makePrettyLogger = (options: JsonLoggerOptions & { readonly colour?: boolean | undefined }): Logger.Logger<unknown, void> => {
  const json = makeJsonLogger({
    ...options,
    write: (line) => {
      const { timestamp, level, service, message, annotations, cause, trace_id, spans: _spans, span_id: _spanId } = JSON.parse(line) as Record<string, unknown>
      const time = String(timestamp).slice(11, 23)
      const label = String(level).toUpperCase().padEnd(5)
      const shown = options.colour === true ? `\u001b[${colours[String(level)] ?? "0"}m${label}\u001b[0m` : label
      const fields = Object.entries({ ...(annotations as object | undefined), ...(trace_id === undefined ? {} : { trace_id }) })
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      const text = typeof message === "string" ? message : JSON.stringify(message)
      const out = `${time} ${shown} ${service}: ${[text, ...fields].join(" ")}${cause === undefined ? "" : `\n${String(cause)}`}`
      ;(options.write ?? ((l: string) => void process.stdout.write(`${l}\n`)))(out)
    }
  })
  return json
}

/** The app's one logger: JSON or pretty, both redacted; colour only on a terminal without NO_COLOR. */
export const makeAppLogger = (settings: LogSettings, options: JsonLoggerOptions): Logger.Logger<unknown, void> =>
  settings.format === "json"
    ? makeJsonLogger(options)
    : makePrettyLogger({ ...options, colour: process.stdout.isTTY === true && process.env.NO_COLOR === undefined })

/**
 * Replaces Effect's default logger with the app's one and sets the minimum level from `LOG_LEVEL`:
 * every line an app writes goes through it (and through `redact`).
 */
export const layerLogger = (options?: Omit<JsonLoggerOptions, "serviceName"> & { readonly serviceName?: string | undefined }) =>
  Layer.unwrapEffect(
    Effect.map(Effect.all([TelemetryConfig, LogSettings]), ([config, settings]) =>
      Layer.merge(
        installAppLogger(makeAppLogger(settings, { ...options, serviceName: resolveServiceName(config, options?.serviceName) })),
        Logger.minimumLogLevel(settings.level)
      )
    )
  )
