import { Schema } from "effect"

/**
 * Ids end up in subjects, KV keys and message ids, so they are restricted to characters every one of
 * those accepts (no '.', '*', '>', whitespace or ':' which separates parts of derived message ids).
 */
export const Id = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, { message: () => "must be 1-64 letters, digits, '_' or '-'" })
)

export const OrderId = Id

export const CustomerId = Id
export const Sku = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))

/** Money is integer cents: floats cannot represent most decimal prices exactly. */
export const Cents = Schema.Number.pipe(Schema.int(), Schema.nonNegative(), Schema.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER))
export const Quantity = Schema.Number.pipe(Schema.int(), Schema.positive(), Schema.lessThanOrEqualTo(1_000_000))
export const Attempt = Schema.Number.pipe(Schema.int(), Schema.positive())
export const Reason = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(500))

/** ISO-8601 with a zone, kept as text so events stay plain JSON in both directions. */
export const Timestamp = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, {
    message: () => "must be an ISO-8601 timestamp with a zone, e.g. 2024-01-01T12:00:00Z"
  }),
  Schema.filter((s) => !Number.isNaN(Date.parse(s)) || "must be a real date")
)

export const LineItem = Schema.Struct({ sku: Sku, quantity: Quantity, unitPriceCents: Cents })
export type LineItem = typeof LineItem.Type

/** Non-empty, one line per SKU, so reservations and refunds have one obvious amount per SKU. */
export const LineItems = Schema.Array(LineItem).pipe(
  Schema.minItems(1, { message: () => "an order needs at least one item" }),
  Schema.filter((items) => {
    const seen = new Set<string>()
    for (const [i, item] of items.entries()) {
      if (seen.has(item.sku)) return { path: [i, "sku"], message: `duplicate sku ${item.sku}` }
      seen.add(item.sku)
    }
    return undefined
  })
)

export const itemsTotalCents = (items: ReadonlyArray<LineItem>): number =>
  items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0)
