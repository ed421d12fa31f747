import { Cause, Clock, Effect, Exit, FiberRef, Option, type Tracer } from "effect"
import { currentSpanOption } from "./current-span.js"
import { MESSAGING_SYSTEM, type MessageInfo, messageAttributes, MessagingAttributes, OperationType } from "./attributes.js"
import {
  continueTrace,
  extractRemote,
  injectTraceHeaders,
  isTracing,
  withBaggage,
  parseTraceparent,
  type TraceHeaders
} from "./propagation.js"

/**
 * Header a replay (or dead-letter copy) keeps the first delivery's `traceparent` in, so the replayed
 * message starts its own trace yet links back to the one that failed.
 */
export const ORIGINAL_TRACEPARENT_HEADER = "Conveyor-Original-Traceparent"

const producerSpanOptions = (subject: string, info: MessageInfo | undefined) => ({
  kind: "producer" as const,
  // The call site is the runtime's publisher, the same for every message: not worth a stack per span.
  captureStackTrace: false,
  attributes: {
    [MessagingAttributes.system]: MESSAGING_SYSTEM,
    [MessagingAttributes.operationType]: OperationType.send,
    [MessagingAttributes.operationName]: "publish",
    [MessagingAttributes.destinationName]: subject,
    ...messageAttributes(info)
  }
})

/**
 * Opens a PRODUCER span `publish <subject>` and hands `publish` the headers that carry it; the transport
 * merges them into the message headers. A failure of `publish` marks the span as failed.
 */
export const producerSpan =
  (subject: string, info?: MessageInfo) =>
  <A, E, R>(publish: (traceHeaders: Record<string, string>) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(isTracing, (tracing) =>
      tracing
        ? Effect.flatMap(injectTraceHeaders(), publish).pipe(Effect.withSpan(`publish ${subject}`, producerSpanOptions(subject, info)))
        : // No tracer: no span; the message carries the current context on.
          Effect.flatMap(injectTraceHeaders(), publish)
    )

/** What a PubAck says, for the producer span. */
export interface PublishAckInfo {
  readonly stream: string
  readonly sequence: number
  readonly duplicate?: boolean | undefined
}

/**
 * `producerSpan` for a batch sent at once (pipelined PubAcks): one PRODUCER span per message, each
 * message's trace headers handed to `publishAll` in order. The spans end together when the batch
 * does, each annotated with its own PubAck (`ackOf`), or all failed with the batch's error.
 */
export const producerSpans = <A, E, R>(
  messages: ReadonlyArray<{ readonly subject: string; readonly info?: MessageInfo | undefined }>,
  publishAll: (traceHeaders: ReadonlyArray<Record<string, string>>) => Effect.Effect<ReadonlyArray<A>, E, R>,
  ackOf: (ack: A) => PublishAckInfo
): Effect.Effect<ReadonlyArray<A>, E, R> =>
  Effect.gen(function* () {
    if (!(yield* isTracing)) {
      // No tracer: no spans; every message carries the current context on.
      const headers = yield* injectTraceHeaders()
      return yield* publishAll(messages.map(() => headers))
    }
    const spans = yield* Effect.forEach(messages, (m) => Effect.makeSpan(`publish ${m.subject}`, producerSpanOptions(m.subject, m.info)))
    const headers = yield* Effect.forEach(spans, (span) => Effect.withParentSpan(injectTraceHeaders(), span))
    return yield* publishAll(headers).pipe(
      Effect.onExit((exit) =>
        Effect.flatMap(Clock.currentTimeNanos, (now) =>
          Effect.sync(() =>
            spans.forEach((span, i) => {
              if (Exit.isSuccess(exit)) {
                const ack = exit.value[i]
                if (ack !== undefined) {
                  const info = ackOf(ack)
                  span.attribute(MessagingAttributes.stream, info.stream)
                  span.attribute(MessagingAttributes.streamSequence, info.sequence)
                  span.attribute("messaging.nats.duplicate", info.duplicate ?? false)
                }
              }
              span.end(now, exit)
            })
          )
        )
      )
    )
  })

/**
 * Puts what the PubAck said on the current (producer) span: where the message was stored, and whether
 * JetStream dropped it as a duplicate of an earlier `Nats-Msg-Id`.
 */
export const annotatePublishAck = (ack: { readonly stream: string; readonly sequence: number; readonly duplicate?: boolean | undefined }) =>
  Effect.annotateCurrentSpan({
    [MessagingAttributes.stream]: ack.stream,
    [MessagingAttributes.streamSequence]: ack.sequence,
    "messaging.nats.duplicate": ack.duplicate ?? false
  })

/** What `consumerSpan` keeps for the helpers below, per processed message. */
interface Processing {
  readonly span: Tracer.Span
  failure: Option.Option<unknown>
}

/**
 * Consumer spans opened by `consumerSpan` carry their Processing under this key, and are found from
 * the current span by walking up its parents (a handler's own spans are children of it). A FiberRef
 * set with `Effect.locally` did the same at the cost of another acquire/release layer per message,
 * and a WeakMap from span to Processing made the collector trace an ephemeron per message.
 */
const processingKey: unique symbol = Symbol.for("@conveyor/telemetry/Processing")
type WithProcessing = Tracer.AnySpan & { [processingKey]?: Processing }

const currentProcessing: Effect.Effect<Option.Option<Processing>> = Effect.map(currentSpanOption, (current) => {
  let span: WithProcessing | undefined = Option.getOrUndefined(current)
  while (span !== undefined) {
    const processing = span[processingKey]
    if (processing !== undefined) return Option.some(processing)
    span = span._tag === "Span" ? Option.getOrUndefined(span.parent) : undefined
  }
  return Option.none()
})

export interface ConsumeOptions {
  readonly subject: string
  readonly headers?: TraceHeaders | undefined
  readonly attributes?: MessageInfo | undefined
}

/** A link to the first delivery's trace when `headers` say this message is a replay. */
export const originalTraceLink = (headers: TraceHeaders | undefined): Option.Option<Tracer.SpanLink> =>
  Option.map(parseTraceparent(headerValue(headers, ORIGINAL_TRACEPARENT_HEADER)), (span) => ({
    _tag: "SpanLink",
    span,
    attributes: { "conveyor.link": "original" }
  }))

/**
 * Opens a CONSUMER span `process <subject>`. Its parent is the producer's context from `headers`, so one
 * trace runs through every hop; it also links to that context, as the messaging conventions ask. Without a
 * usable `traceparent` the span is the root of a new trace (never the caller's span: the poll loop is not
 * the message's cause). Incoming baggage is made current for the effect.
 *
 * The span fails when `effect` fails, or when the runtime handled a failure itself and reported it with
 * `markProcessingFailed`, `recordRetry` or `recordDeadLetter` (a retried or dead-lettered message is not a success).
 * Without a tracer (`isTracing` false) no span is made: the effect runs in the incoming context (`continueTrace`).
 */
export const consumerSpan =
  (options: ConsumeOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>, attributesOf?: (value: A) => Readonly<Record<string, unknown>>): Effect.Effect<A, E, R> =>
    Effect.flatMap(consumerSpans, (spans) => (Option.isSome(spans) ? spans.value(options, () => effect, attributesOf) : continueTrace(options.headers)(effect)))

/**
 * `consumerSpan` for a loop that processes many messages, chosen once (traced or not). `process` is
 * called once the span is open and runs with the span current; `attributesOf` puts attributes
 * derived from the value on the span as it ends.
 */
export interface ConsumerSpans {
  <A, E, R>(options: ConsumeOptions, process: () => Effect.Effect<A, E, R>, attributesOf?: (value: A) => Readonly<Record<string, unknown>>): Effect.Effect<A, E, R>
}

/** `ConsumerSpans` for the current fiber; none without a tracer installed, or with `withTracerEnabled(false)`. */
export const consumerSpans: Effect.Effect<Option.Option<ConsumerSpans>> = Effect.flatMap(isTracing, (tracing) =>
  tracing ? Effect.map(FiberRef.get(FiberRef.currentTracerEnabled), (enabled) => (enabled ? Option.some(openConsumerSpan) : Option.none())) : Effect.succeed(Option.none())
)

/** Opens the span with Effect's own `makeSpan` (the fiber's tracer, clock and span settings), makes it the parent of `process`, and ends it with its exit. */
const openConsumerSpan: ConsumerSpans = <A, E, R>(
  options: ConsumeOptions,
  process: () => Effect.Effect<A, E, R>,
  attributesOf?: (value: A) => Readonly<Record<string, unknown>>
): Effect.Effect<A, E, R> => {
  const { parent, baggage } = extractRemote(options.headers)
  const links: Array<Tracer.SpanLink> = []
  if (Option.isSome(parent)) links.push({ _tag: "SpanLink", span: parent.value, attributes: { "conveyor.link": "producer" } })
  const original = originalTraceLink(options.headers)
  if (Option.isSome(original)) links.push(original.value)
  const spanOptions = {
    kind: "consumer" as const,
    links,
    // The call site is the runtime's runner, the same for every message: not worth a stack per span.
    captureStackTrace: false,
    attributes: {
      [MessagingAttributes.system]: MESSAGING_SYSTEM,
      [MessagingAttributes.operationType]: OperationType.process,
      [MessagingAttributes.operationName]: "process",
      [MessagingAttributes.destinationName]: options.subject,
      ...messageAttributes(options.attributes)
    },
    ...(Option.isSome(parent) ? { parent: parent.value } : { root: true })
  }
  return Effect.flatMap(Effect.makeSpan(`process ${options.subject}`, spanOptions), (span) => {
    const processing: Processing = { span, failure: Option.none() }
    const marked: WithProcessing = span
    marked[processingKey] = processing
    const inSpan = Effect.withParentSpan(Effect.suspend(process), span)
    // Most messages carry no baggage: skip a FiberRef layer per message for them.
    return Effect.onExit(Object.keys(baggage).length === 0 ? inSpan : withBaggage(baggage)(inSpan), (exit) =>
      Effect.flatMap(Clock.currentTimeNanos, (now) =>
        Effect.sync(() => {
          if (attributesOf !== undefined && span.sampled && Exit.isSuccess(exit)) {
            const more = attributesOf(exit.value)
            for (const key in more) span.attribute(key, more[key])
          }
          span.end(now, Exit.isSuccess(exit) && Option.isSome(processing.failure) ? Exit.fail(processing.failure.value) : exit)
        })
      )
    )
  })
}

const describe = (error: unknown): { readonly type: string; readonly message: string } => {
  const pretty = Cause.prettyErrors(Cause.fail(error))[0]
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined
  return { type: tag ?? pretty?.name ?? "Error", message: pretty?.message ?? String(error) }
}

/** The consumer span if inside `consumerSpan`, else the current span. */
const targetSpan: Effect.Effect<Option.Option<Tracer.Span>> = Effect.flatMap(currentProcessing, (p) =>
  Option.isSome(p) ? Effect.succeed(Option.some(p.value.span)) : currentSpanOption
)

/**
 * Records that the message's processing failed although the effect will succeed (the runtime nak'ed or
 * dead-lettered it): the consumer span ends with status ERROR and `error.type`.
 */
export const markProcessingFailed = (error: unknown): Effect.Effect<void> =>
  Effect.flatMap(currentProcessing, (processing) =>
    Effect.sync(() => {
      if (Option.isNone(processing)) return
      processing.value.failure = Option.some(error)
      processing.value.span.attribute(MessagingAttributes.errorType, describe(error).type)
    })
  )

const addEvent = (name: string, attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(targetSpan, (span) =>
    Option.isNone(span)
      ? Effect.void
      : Effect.flatMap(Clock.currentTimeNanos, (now) => Effect.sync(() => span.value.event(name, now, attributes)))
  )

/**
 * Adds a `dead_lettered` event (with the error as `exception.*`) to the consumer span and marks the
 * processing failed. Call it where the runtime copies the message to the dead-letter stream.
 */
export const recordDeadLetter = (
  error: unknown,
  details?: { readonly deliveryCount?: number | undefined; readonly reason?: string | undefined; readonly deadLetterSubject?: string | undefined }
): Effect.Effect<void> => {
  const { type, message } = describe(error)
  const attributes: Record<string, unknown> = { "exception.type": type, "exception.message": message }
  if (details?.deliveryCount !== undefined) attributes[MessagingAttributes.deliveryCount] = details.deliveryCount
  if (details?.reason !== undefined) attributes["conveyor.dead_letter.reason"] = details.reason
  if (details?.deadLetterSubject !== undefined) attributes["conveyor.dead_letter.subject"] = details.deadLetterSubject
  return Effect.zipRight(addEvent("dead_lettered", attributes), markProcessingFailed(error))
}

/** Adds a `retry_scheduled` event with the nak delay and marks the processing failed. */
export const recordRetry = (error: unknown, details: { readonly delayMillis: number; readonly deliveryCount?: number | undefined }) => {
  const { type, message } = describe(error)
  const attributes: Record<string, unknown> = { "exception.type": type, "exception.message": message, "conveyor.retry.delay_ms": details.delayMillis }
  if (details.deliveryCount !== undefined) attributes[MessagingAttributes.deliveryCount] = details.deliveryCount
  return Effect.zipRight(addEvent("retry_scheduled", attributes), markProcessingFailed(error))
}

/**
 * Links the current span to the original trace kept in `Conveyor-Original-Traceparent`, if any.
 * `consumerSpan` does this itself; this is for spans opened elsewhere (e.g. a replay tool's own span).
 */
export const linkOriginalTrace = (headers: TraceHeaders | undefined): Effect.Effect<void> =>
  Option.match(originalTraceLink(headers), { onNone: () => Effect.void, onSome: (link) => Effect.linkSpanCurrent([link]) })

/**
 * For a replay or a dead-letter copy: keeps the first `traceparent` in `Conveyor-Original-Traceparent`
 * (an existing one wins, so a message replayed twice still points at the very first trace).
 */
export const preserveOriginalTraceparent = (headers: TraceHeaders): Record<string, string> => {
  const out: Record<string, string> = { ...headers }
  const original = headerValue(headers, ORIGINAL_TRACEPARENT_HEADER) ?? headerValue(headers, "traceparent")
  if (original !== undefined) out[ORIGINAL_TRACEPARENT_HEADER] = original
  return out
}

const headerValue = (headers: TraceHeaders | undefined, name: string): string | undefined => {
  if (headers === undefined) return undefined
  const lower = name.toLowerCase()
  const key = Object.keys(headers).find((k) => k.toLowerCase() === lower)
  return key === undefined ? undefined : headers[key]
}
