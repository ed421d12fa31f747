/** The demo's order mix, decided by the order's index so a run is reproducible. */
export interface DemoOrder {
  readonly orderId: string
  readonly idempotencyKey: string
  readonly body: { readonly orderId: string; readonly customerId: string; readonly items: ReadonlyArray<{ sku: string; quantity: number; unitPriceCents: number }> }
  readonly kind: "normal" | "declined" | "rejected"
  /** Sent twice with the same Idempotency-Key. */
  readonly duplicate: boolean
}

export const SKUS = 20
export const STOCK = 100_000

export const skuName = (run: string, k: number): string => `${run}-sku-${k}`
export const limitedSku = (run: string): string => `${run}-limited`

export const demoOrder = (run: string, i: number): DemoOrder => {
  const orderId = `${run}-o${i}`
  const declined = i % 13 === 5
  const rejected = !declined && i % 29 === 7
  const lines = 1 + (i % 3)
  const items = Array.from({ length: lines }, (_, l) => ({
    sku: skuName(run, (i * 7 + l * 3) % SKUS),
    quantity: 1 + ((i + l) % 3),
    unitPriceCents: 100 + ((i * 37 + l * 11) % 4_900)
  }))
  // More than there is: the inventory worker holds the other lines, then rolls them back.
  if (rejected) items.push({ sku: limitedSku(run), quantity: STOCK * 2, unitPriceCents: 1 })
  return {
    orderId,
    idempotencyKey: `${run}-req-${i}`,
    body: { orderId, customerId: declined ? `decline-c${i % 50}` : `c${i % 97}`, items },
    kind: declined ? "declined" : rejected ? "rejected" : "normal",
    duplicate: i % 17 === 3
  }
}
