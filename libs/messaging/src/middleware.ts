import { Effect } from "effect"
import type { Delivery } from "./delivery.js"
import type { BrokerInstruction } from "./internal/decide.js"
import type { Outcome, Settlement } from "./outcome.js"

/** What became of one delivery: what handling decided, and what the broker was told. */
export interface DeliveryResult {
  readonly outcome: Outcome
  readonly settlement: Settlement
  /** The settlement's details: the nak's delay, the dead letter's reason. */
  readonly instruction: BrokerInstruction
}

/** Handles one delivery, from the handler to telling the broker; never fails (failures are outcomes). */
export type HandleDelivery<R = never> = (delivery: Delivery) => Effect.Effect<DeliveryResult, never, R>

/**
 * The one extension point, as in Watermill's router: a middleware wraps the handling of one
 * delivery and sees its result, including what the broker was told. Middlewares are listed in the
 * runner's options, outermost first, and are plain Effect.
 */
export type Middleware<R = never> = <R0>(next: HandleDelivery<R0>) => HandleDelivery<R0 | R>

/** A middleware that calls `f` with each delivery's result once the broker was told (counting, tests). */
export const tapResult =
  (f: (delivery: Delivery, result: DeliveryResult) => void): Middleware =>
  (next) =>
  (delivery) =>
    Effect.map(next(delivery), (result) => {
      f(delivery, result)
      return result
    })
