import type { TimerRequest } from "./timer.js"

/** The instance moves on: a new state, messages to emit, timers to set or cancel. */
export interface Advance<S, C> {
  readonly _tag: "Advance"
  readonly state: S
  readonly commands: ReadonlyArray<C>
  readonly timers: ReadonlyArray<TimerRequest>
  /** A terminal instance accepts no further advances; the engine cancels its remaining timers. */
  readonly terminal: boolean
}

/**
 * The event is understood but changes nothing, e.g. a duplicate answer for a step already done.
 * Distinct from an illegal transition so at-least-once delivery never dead-letters a harmless repeat.
 */
export interface Ignore {
  readonly _tag: "Ignore"
  readonly reason: string
}

export type Transition<S, C> = Advance<S, C> | Ignore

export const Transition = {
  advance: <S, C = never>(
    state: S,
    options: {
      readonly commands?: ReadonlyArray<C>
      readonly timers?: ReadonlyArray<TimerRequest>
      readonly terminal?: boolean
    } = {}
  ): Advance<S, C> => ({
    _tag: "Advance",
    state,
    commands: options.commands ?? [],
    timers: options.timers ?? [],
    terminal: options.terminal ?? false
  }),
  ignore: (reason: string): Ignore => ({ _tag: "Ignore", reason }),
  isAdvance: <S, C>(t: Transition<S, C>): t is Advance<S, C> => t._tag === "Advance",
  isIgnore: <S, C>(t: Transition<S, C>): t is Ignore => t._tag === "Ignore"
}
