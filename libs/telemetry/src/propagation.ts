import * as OtelTracer from "@effect/opentelemetry/Tracer"
import {
  type Context as OtelContext,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
  trace,
  TraceFlags
} from "@opentelemetry/api"
import { W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core"
import { Context, Effect, FiberRef, Option, type Tracer } from "effect"
import { currentParentSpanOption } from "./current-span.js"

/** Message headers as the transport adapter hands them over; the NATS adapter converts to and from this. */
export type TraceHeaders = Readonly<Record<string, string>>

/**
 * The W3C propagators are used directly rather than through the global `propagation` API: headers then
 * carry `traceparent`/`tracestate`/`baggage` whether or not an SDK is registered (with OTEL_SDK_DISABLED
 * no spans are made, and the incoming context is passed on: see `isTracing`).
 */
const traceContext = new W3CTraceContextPropagator()
const baggagePropagator = new W3CBaggagePropagator()

/** Header names are matched case-insensitively: some transports canonicalise them. */
const getter: TextMapGetter<TraceHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    if (key in carrier) return carrier[key]
    const lower = key.toLowerCase()
    const found = Object.keys(carrier).find((k) => k.toLowerCase() === lower)
    return found === undefined ? undefined : carrier[found]
  }
}

const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value
  }
}

const nativeTracer = Effect.runSync(Effect.tracer)

/**
 * Whether spans go anywhere: false under Effect's built-in tracer (no tracing layer installed, or
 * OTEL_SDK_DISABLED). Then the span helpers make no spans and only pass the incoming context on, as
 * the OTel API does without an SDK: a span per message nobody records cost the runner a third of
 * its throughput.
 */
export const isTracing: Effect.Effect<boolean> = Effect.tracerWith((tracer) => Effect.succeed(tracer !== nativeTracer))

/** W3C baggage entries carried along the workflow; set from incoming headers by `consumerSpan`. */
export const currentBaggage: FiberRef.FiberRef<Readonly<Record<string, string>>> = FiberRef.unsafeMake<
  Readonly<Record<string, string>>
>({})

export const withBaggage =
  (entries: Readonly<Record<string, string>>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.locallyWith(effect, currentBaggage, (current) => ({ ...current, ...entries }))

const spanContextOf = (span: Tracer.AnySpan): SpanContext => ({
  traceId: span.traceId,
  spanId: span.spanId,
  traceFlags: span.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
  isRemote: span._tag === "ExternalSpan",
  ...Option.match(Context.getOption(span.context, OtelTracer.OtelTraceState), {
    onNone: () => ({}),
    onSome: (traceState) => ({ traceState })
  })
})

/** The OTel span context of the current Effect span, with `tracestate` when the span came from OTel. */
const currentSpanContext: Effect.Effect<Option.Option<SpanContext>> = Effect.flatMap(currentParentSpanOption, (parent) =>
  Option.isNone(parent)
    ? Effect.succeed(Option.none())
    : parent.value._tag === "ExternalSpan"
    ? Effect.succeed(Option.some(spanContextOf(parent.value)))
    // A span of this process: OTel's own context (with its tracestate) when the tracer is OTel's.
    // currentOtelSpan fails (an Error) only for a span that disables propagation: rare, not per message.
    : Effect.orElseSucceed(Effect.map(OtelTracer.currentOtelSpan, (span) => Option.some(span.spanContext())), () => Option.some(spanContextOf(parent.value)))
)

/**
 * Returns `headers` plus `traceparent`, `tracestate` (when there is one) and `baggage` (when there is
 * any) for the current span. Without a current span the headers come back unchanged.
 */
export const injectTraceHeaders = (headers: TraceHeaders = {}): Effect.Effect<Record<string, string>> =>
  // Nested rather than Effect.zip, which goes through Effect.all's machinery: this runs per publish.
  Effect.flatMap(currentSpanContext, (spanContext) => Effect.map(FiberRef.get(currentBaggage), (baggage) => {
    const out: Record<string, string> = { ...headers }
    let ctx: OtelContext = ROOT_CONTEXT
    if (Option.isSome(spanContext)) ctx = trace.setSpanContext(ctx, spanContext.value)
    if (Object.keys(baggage).length > 0) {
      ctx = propagation.setBaggage(
        ctx,
        propagation.createBaggage(Object.fromEntries(Object.entries(baggage).map(([k, value]) => [k, { value }])))
      )
    }
    traceContext.inject(ctx, out, setter)
    baggagePropagator.inject(ctx, out, setter)
    return out
  }))

/** Whether any header could carry context: most cost nothing to rule out before the propagators run. */
const mayCarryContext = (headers: TraceHeaders): boolean => {
  for (const key in headers) {
    const lower = key.toLowerCase()
    if (lower === "traceparent" || lower === "tracestate" || lower === "baggage") return true
  }
  return false
}

const extractContext = (headers: TraceHeaders | undefined): OtelContext => {
  if (headers === undefined || !mayCarryContext(headers)) return ROOT_CONTEXT
  try {
    return baggagePropagator.extract(traceContext.extract(ROOT_CONTEXT, headers, getter), headers, getter)
  } catch {
    // The propagators validate rather than throw, but a header from the network must never fail a message.
    return ROOT_CONTEXT
  }
}

/**
 * The remote parent carried by `headers`, as an Effect span usable as `parent` or in a link. Missing or
 * malformed `traceparent` gives none: the message then starts a new trace.
 */
export const extractTraceContext = (headers: TraceHeaders | undefined): Option.Option<Tracer.ExternalSpan> =>
  parentOf(extractContext(headers))

/**
 * Runs `effect` in the context `headers` carry, without a span of its own: the remote parent becomes
 * the current span (so what it publishes continues the trace, and log lines carry its trace id) and
 * incoming baggage becomes current. Headers without context cost nothing.
 */
export const continueTrace =
  (headers: TraceHeaders | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const remote = remoteContext(headers)
    if (remote === undefined) return effect
    const inParent = Option.isSome(remote.parent) ? Effect.withParentSpan(effect, remote.parent.value) : effect
    return Object.keys(remote.baggage).length === 0 ? inParent : withBaggage(remote.baggage)(inParent)
  }

/**
 * The context `headers` carry, as `continueTrace` puts an effect in it: the remote parent (the
 * current span to be) and baggage entries; undefined, at no cost, for headers without any. For a
 * runtime that sets them on its fiber itself (the message runner: `Tracer.ParentSpan` in the
 * context, and `currentBaggage`).
 */
export const remoteContext = (
  headers: TraceHeaders | undefined
): { readonly parent: Option.Option<Tracer.ExternalSpan>; readonly baggage: Record<string, string> } | undefined =>
  headers === undefined || !mayCarryContext(headers) ? undefined : extractRemote(headers)

/** Baggage entries from `headers`; malformed baggage yields none. */
export const extractBaggage = (headers: TraceHeaders | undefined): Record<string, string> => baggageOf(extractContext(headers))

/** Parent and baggage from one run of the propagators (a consumer needs both for every message). */
export const extractRemote = (headers: TraceHeaders | undefined): { readonly parent: Option.Option<Tracer.ExternalSpan>; readonly baggage: Record<string, string> } => {
  const ctx = extractContext(headers)
  return { parent: parentOf(ctx), baggage: baggageOf(ctx) }
}

const parentOf = (ctx: OtelContext): Option.Option<Tracer.ExternalSpan> =>
  Option.map(Option.fromNullable(trace.getSpanContext(ctx)), (sc) =>
    OtelTracer.makeExternalSpan({
      traceId: sc.traceId,
      spanId: sc.spanId,
      traceFlags: sc.traceFlags,
      traceState: sc.traceState
    })
  )

const baggageOf = (ctx: OtelContext): Record<string, string> => {
  const baggage = propagation.getBaggage(ctx)
  return baggage === undefined ? {} : Object.fromEntries(baggage.getAllEntries().map(([k, e]) => [k, e.value]))
}

/** Parses one `traceparent` value (e.g. a copy kept in another header). */
export const parseTraceparent = (traceparent: string | undefined): Option.Option<Tracer.ExternalSpan> =>
  traceparent === undefined ? Option.none() : extractTraceContext({ traceparent })
