import { Effect, Option, Tracer } from "effect"

// Effect.currentSpan and Effect.currentParentSpan fail with a NoSuchElementException when there is
// no span, and Effect.option turns that into None: an Error with a captured stack per call, on every
// message of an app that runs without a tracer (or sees only a remote parent). These read the same
// context entry and build nothing.

/** The innermost span or remote parent (`Effect.currentParentSpan`), without failing when there is none. */
export const currentParentSpanOption: Effect.Effect<Option.Option<Tracer.AnySpan>> = Effect.serviceOption(Tracer.ParentSpan)

/** The innermost span made in this process (`Effect.currentSpan`); None when there is none or only a remote parent. */
export const currentSpanOption: Effect.Effect<Option.Option<Tracer.Span>> = Effect.map(currentParentSpanOption, (span) =>
  Option.isSome(span) && span.value._tag === "Span" ? Option.some(span.value) : Option.none()
)
