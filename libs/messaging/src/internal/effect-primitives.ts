import { Effect, type RuntimeFlags } from "effect"
import { yieldWrapGet } from "effect/Utils"

// Effect 3's primitive instructions as the adapter (effect-adapter.ts) reads them, and the rest of
// an evaluation rebuilt from its frames with public combinators. Not public API of Effect: pinned
// by test/effect-adapter.test.ts.

export type Primitive = {
  readonly _op: string
  readonly effect_instruction_i0?: any
  readonly effect_instruction_i1?: any
  readonly effect_instruction_i2?: any
  readonly commit?: () => Effect.Effect<unknown, unknown, unknown>
}

/**
 * What is still to run once the current instruction produced a value or a failure: the
 * continuation instruction itself (OnSuccess, OnFailure, OnSuccessAndFailure, Iterator, While: no
 * copy per step), or the end of a region (`uninterruptible`, `interruptible`): the frames above it
 * ran with `interruptible`, those below with `outer`.
 */
export type Frame = Primitive | { readonly _op: "Region"; readonly interruptible: boolean; readonly outer: RuntimeFlags.RuntimeFlags }

/** Continues a generator (`Effect.gen`) from `value` with public combinators. */
const resumeIterator = (it: Iterator<unknown, unknown, unknown>, value: unknown): Effect.Effect<unknown, unknown, unknown> =>
  Effect.suspend(() => {
    const state = it.next(value)
    if (state.done === true) return Effect.succeed(state.value)
    return Effect.flatMap(yieldWrapGet(state.value as never) as Effect.Effect<unknown, unknown, unknown>, (v) => resumeIterator(it, v))
  })

/** The rest of the computation as an Effect the fiber can run: `current`, then the frames, top first. */
export const rebuild = (current: Effect.Effect<unknown, unknown, unknown>, stack: Array<Frame>): Effect.Effect<unknown, unknown, unknown> => {
  let rest = current
  for (let i = stack.length - 1; i >= 0; i--) {
    const frame = stack[i]!
    switch (frame._op) {
      case "OnSuccess":
        rest = Effect.flatMap(rest, (frame as Primitive).effect_instruction_i1)
        break
      case "OnFailure":
        rest = Effect.catchAllCause(rest, (frame as Primitive).effect_instruction_i1)
        break
      case "OnSuccessAndFailure":
        rest = Effect.matchCauseEffect(rest, { onFailure: (frame as Primitive).effect_instruction_i1, onSuccess: (frame as Primitive).effect_instruction_i2 })
        break
      case "Iterator": {
        const it = (frame as Primitive).effect_instruction_i0 as Iterator<unknown, unknown, unknown>
        rest = Effect.flatMap(rest, (v) => resumeIterator(it, v))
        break
      }
      case "While": {
        const loop = frame as Primitive
        rest = Effect.flatMap(rest, (v) => {
          loop.effect_instruction_i2(v)
          return Effect.whileLoop({ while: loop.effect_instruction_i0, body: loop.effect_instruction_i1, step: loop.effect_instruction_i2 })
        })
        break
      }
      case "Region": {
        const region = frame as Extract<Frame, { readonly _op: "Region" }>
        rest = region.interruptible ? Effect.interruptible(rest) : Effect.uninterruptible(rest)
        break
      }
    }
  }
  return rest
}
