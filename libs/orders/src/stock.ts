import { Schema } from "effect"

/*
 * What the inventory stores, and its pure decisions. Two kinds of value share the stock bucket:
 *
 * - a SKU's stock (`sku.<sku>`): the free units, and the orders *in transition* at this SKU: holds
 *   not yet confirmed by their order's record, and stock given back while the order is released;
 * - an order's reservation record (`order.<orderId>`): what it holds for good (each line with the
 *   reservation attempt that made the hold), or that it was refused or released. It is the
 *   order's tombstone too: a reservation that comes after the release finds it and holds nothing.
 *
 * An order's entries leave the SKU's value once its record is final (they are dropped with the
 * SKU's next write), so the value holds the orders under way, not every order ever served: it
 * used to keep every held and released order, grew by ~30 bytes an order and stopped taking
 * writes at the server's 1 MB value limit (~40,000 orders of one SKU), re-encoding all of it on
 * every hold on the way.
 */

const Units = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** One SKU's stock: what is free, and the orders under way here (see above). */
export const SkuStock = Schema.Struct({
  available: Units,
  /** Units held per order, until the order's record confirms them (then dropped) or they are given back. */
  held: Schema.Record({ key: Schema.String, value: Units }),
  /** Orders whose confirmed hold was given back here, until their record says released. */
  closed: Schema.Array(Schema.String),
  /** The reservation attempt that made each hold. A hold without one predates the records: it stays until released. */
  by: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  /**
   * Closed marks dropped so far. A release that read its order's record before a drop may be late:
   * its give-back, seeing the count move past what it read first, re-reads the record instead.
   */
  dropped: Schema.optionalWith(Units, { default: () => 0 })
})
export type SkuStock = typeof SkuStock.Type

/** A line an order holds for good: `by` is the attempt whose hold it is ("" for a hold older than the records). */
export const HeldLine = Schema.Struct({ sku: Schema.String, quantity: Units, by: Schema.String })
export type HeldLine = typeof HeldLine.Type

/** An order's reservation record. `Releasing` gives its lines back; `Released` and `Rejected` hold nothing. */
export const Reservation = Schema.Union(
  Schema.TaggedStruct("Held", { lines: Schema.Array(HeldLine) }),
  Schema.TaggedStruct("Rejected", { reason: Schema.String }),
  Schema.TaggedStruct("Releasing", { lines: Schema.Array(HeldLine) }),
  Schema.TaggedStruct("Released", {})
)
export type Reservation = typeof Reservation.Type

/** KV keys allow `[-/_=.a-zA-Z0-9]`; SKUs are free text. */
export const skuKey = (sku: string): string => `sku.${Buffer.from(sku).toString("base64url")}`
/** Order ids are KV-safe (`Id`), as in the ledger and the shipments. */
export const reservationKey = (orderId: string): string => `order.${orderId}`

type Decision<B> = { readonly next?: SkuStock; readonly result: B }

/** The attempt whose hold the order has here ("" for a hold older than the records). */
export const holdMark = (stock: SkuStock, orderId: string): string => (Object.hasOwn(stock.by, orderId) ? stock.by[orderId]! : "")
/** Own keys only: an order id may be "constructor" or "toString". */
const heldOf = (stock: SkuStock, orderId: string): number | undefined => (Object.hasOwn(stock.held, orderId) ? stock.held[orderId] : undefined)

/** The stock without the order's entry in `held` (and `by`), `returned` units freed. */
const withoutHold = (stock: SkuStock, orderId: string, returned: number, closed = stock.closed): SkuStock => {
  const { [orderId]: _q, ...held } = stock.held
  const { [orderId]: _b, ...by } = stock.by
  return { ...stock, available: stock.available + returned, held, closed, by }
}

export interface HoldResult {
  readonly outcome: "held" | "already-held" | "closed" | "insufficient"
  /** The attempt whose hold the order has here, when it has one. */
  readonly by: string
}

/** Hold `quantity` for the order as attempt `by`, at most once per order. */
export const hold = (stock: SkuStock, orderId: string, quantity: number, by: string): Decision<HoldResult> => {
  if (stock.closed.includes(orderId)) return { result: { outcome: "closed", by: "" } }
  if (Object.hasOwn(stock.held, orderId)) return { result: { outcome: "already-held", by: holdMark(stock, orderId) } }
  if (stock.available < quantity) return { result: { outcome: "insufficient", by: "" } }
  return {
    next: { ...stock, available: stock.available - quantity, held: { ...stock.held, [orderId]: quantity }, by: { ...stock.by, [orderId]: by } },
    result: { outcome: "held", by }
  }
}

/**
 * Undo the order's hold here unless it is the one its record confirms (`confirmed`, the attempt
 * the record names for this SKU): a hold its record refused, or a second one taken by an attempt
 * that lost to an earlier one.
 */
export const undoHold = (stock: SkuStock, orderId: string, confirmed: string | undefined): Decision<number> => {
  const quantity = heldOf(stock, orderId)
  if (quantity === undefined || holdMark(stock, orderId) === confirmed) return { result: 0 }
  return { next: withoutHold(stock, orderId, quantity), result: quantity }
}

/**
 * Give back a line the record holds for good (`line`): the hold may still be here or already
 * dropped (then its units are the line's). Leaves the order closed here until its record says
 * released, so giving back again (a redelivered release) frees nothing twice. `seen` is `dropped`
 * as read before the record: if a closed mark was dropped since, this one may be too (its release
 * finished meanwhile), so "stale": read the record again.
 */
export const giveBack = (stock: SkuStock, orderId: string, line: HeldLine, seen: number): Decision<number | "stale"> => {
  if (stock.closed.includes(orderId)) return { result: 0 }
  if (stock.dropped > seen) return { result: "stale" }
  const here = heldOf(stock, orderId)
  const confirmedHere = here !== undefined && holdMark(stock, orderId) === line.by
  // A hold here that is not the confirmed one is a stray second hold: it goes back too.
  const returned = confirmedHere ? here : line.quantity + (here ?? 0)
  return { next: withoutHold(stock, orderId, returned, [...stock.closed, orderId]), result: returned }
}

/** Drop the order's hold by attempt `by` once its record confirms it: its units stay taken. */
export const dropConfirmed = (stock: SkuStock, orderId: string, by: string): SkuStock =>
  heldOf(stock, orderId) !== undefined && holdMark(stock, orderId) === by ? withoutHold(stock, orderId, 0) : stock

/** Drop the order's closed mark once its record says released. */
export const dropClosed = (stock: SkuStock, orderId: string): SkuStock =>
  stock.closed.includes(orderId) ? { ...stock, closed: stock.closed.filter((id) => id !== orderId), dropped: stock.dropped + 1 } : stock

/**
 * What each order holds of a SKU: the holds in its value, and the lines records confirm whose
 * hold was dropped from it (for reconciliation: free + held = the stock the SKU started with).
 */
export const holdsOf = (sku: string, stock: SkuStock, records: ReadonlyMap<string, Reservation>): Map<string, number> => {
  const holds = new Map(Object.entries(stock.held))
  for (const [orderId, record] of records) {
    if (record._tag !== "Held" && record._tag !== "Releasing") continue
    for (const line of record.lines) {
      // A line given back here (closed) holds nothing; one whose hold is still here is counted above.
      if (line.sku !== sku || stock.closed.includes(orderId)) continue
      if (heldOf(stock, orderId) !== undefined && holdMark(stock, orderId) === line.by) continue
      holds.set(orderId, (holds.get(orderId) ?? 0) + line.quantity)
    }
  }
  return holds
}
