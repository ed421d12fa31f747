import { Cause, Context, Effect, FiberRef, FiberRefs, HashMap, Layer, List, Logger, Option, Tracer } from "effect"
import { resolveServiceName, TelemetryConfig } from "./config.js"
import { redact, type RedactOptions, redactString } from "./redact.js"

export interface JsonLoggerOptions extends RedactOptions {
  readonly serviceName: string
  /** Where lines go; stdout by default (one JSON object per line, what log shippers expect). */
  readonly write?: ((line: string) => void) | undefined
}

const currentSpan = (refs: FiberRefs.FiberRefs): Option.Option<Tracer.AnySpan> =>
  Context.getOption(FiberRefs.getOrDefault(refs, FiberRef.currentContext), Tracer.ParentSpan)

/**
 * One JSON object per line with `trace_id`/`span_id` of the current span (so a log line opens its trace in
 * Jaeger), the service, level, message and the fiber's annotations, everything passed through `redact`.
 */
export const makeJsonLogger = (options: JsonLoggerOptions): Logger.Logger<unknown, void> => {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`))
  return Logger.make(({ annotations, cause, context, date, logLevel, message, spans }) => {
    const messages = Array.isArray(message) ? message : [message]
    const entry: Record<string, unknown> = {
      timestamp: date.toISOString(),
      level: logLevel.label.toLowerCase(),
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

/** Replaces Effect's default logger; the service name comes from OTEL_SERVICE_NAME like the traces'. */
export const layerJsonLogger = (options?: Omit<JsonLoggerOptions, "serviceName"> & { readonly serviceName?: string | undefined }) =>
  Layer.unwrapEffect(
    Effect.map(TelemetryConfig, (config) =>
      Logger.replace(
        Logger.defaultLogger,
        makeJsonLogger({
          ...options,
          serviceName: resolveServiceName(config, options?.serviceName)
        })
      )
    )
  )
