import { defineHandler } from "@conveyor/messaging"
import { NatsConnection, runJetStreamConsumer } from "@conveyor/nats"
import { openJsonBucket, plainJson, type JsonBucket } from "@conveyor/orchestration"
import {
  Buckets, Durables, eventSubject, OrderCommandMessage, type LineItem, type ReleaseStock, type ReserveStock, StockRejected, StockReleased,
  StockReserved
} from "@conveyor/domain"
import { Config, Data, Effect, Layer, Schema } from "effect"
import { ConsumerConfig, consumerSpec, workerOptions, checkedWhenSent } from "./consumers.js"
import { cachedValues, type CachedValues } from "./step-store.js"

const Units = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/**
 * One SKU's stock: what is free, what each order holds, and the orders whose stock was released
 * (closed), so a re-sent reservation arriving after the release cannot hold stock again.
 */
export const SkuStock = Schema.Struct({
  available: Units,
  held: Schema.Record({ key: Schema.String, value: Units }),
  closed: Schema.Array(Schema.String)
})
export type SkuStock = typeof SkuStock.Type

/** KV keys allow `[-/_=.a-zA-Z0-9]`; SKUs are free text. */
export const skuKey = (sku: string): string => `sku.${Buffer.from(sku).toString("base64url")}`

export type HoldResult = "held" | "already-held" | "closed" | "insufficient"

/** Pure: hold `quantity` of a SKU for an order, at most once per order. */
export const hold = (stock: SkuStock, orderId: string, quantity: number): { next?: SkuStock; result: HoldResult } => {
  if (stock.closed.includes(orderId)) return { result: "closed" }
  if (Object.hasOwn(stock.held, orderId)) return { result: "already-held" }
  if (stock.available < quantity) return { result: "insufficient" }
  return { next: { ...stock, available: stock.available - quantity, held: { ...stock.held, [orderId]: quantity } }, result: "held" }
}

/** Pure: give back what an order holds (if anything) and close the order for this SKU. */
export const release = (stock: SkuStock, orderId: string): { next?: SkuStock; result: number } => {
  const quantity = stock.held[orderId] ?? 0
  if (quantity === 0 && stock.closed.includes(orderId)) return { result: 0 }
  const { [orderId]: _dropped, ...held } = stock.held
  return {
    next: { available: stock.available + quantity, held, closed: stock.closed.includes(orderId) ? stock.closed : [...stock.closed, orderId] },
    result: quantity
  }
}

export class UnexpectedCommand extends Data.TaggedError("UnexpectedCommand")<{ readonly worker: string; readonly type: string }> {
  override get message() {
    return `${this.worker} does not execute ${this.type}`
  }
}

export interface Inventory {
  readonly stock: JsonBucket<SkuStock>
  /** Compare-and-set on `stock` from the SKU values this process last saw (no read before each hold). */
  readonly skus: CachedValues<SkuStock>
  readonly defaultStock: number
}

const fresh = (inventory: Inventory): SkuStock => ({ available: inventory.defaultStock, held: {}, closed: [] })

const releaseAll = (inventory: Inventory, orderId: string, items: ReadonlyArray<LineItem>) =>
  Effect.forEach(items, (item) => inventory.skus.modify(skuKey(item.sku), (s) => release(s ?? fresh(inventory), orderId)), { discard: true })

/**
 * Reserves every line or none: lines are held one SKU at a time (each a compare-and-set), and a
 * line that cannot be held releases the ones that were. Every step is keyed by the order, so a
 * re-run after a crash, a duplicate or a re-sent attempt converges on the same holdings: the SKU
 * values are the worker's idempotency record (`step-store.ts`).
 */
export const reserveStock = (inventory: Inventory, command: ReserveStock) =>
  Effect.gen(function* () {
    for (const item of command.items) {
      const result = yield* inventory.skus.modify(skuKey(item.sku), (s) => hold(s ?? fresh(inventory), command.orderId, item.quantity))
      if (result === "closed" || result === "insufficient") {
        yield* releaseAll(inventory, command.orderId, command.items)
        return { ok: false as const, reason: result === "closed" ? "the order's stock was already released" : `not enough ${item.sku}` }
      }
    }
    return { ok: true as const }
  })

export const releaseStock = (inventory: Inventory, command: ReleaseStock) => releaseAll(inventory, command.orderId, command.items)

export const InventoryConfig = Config.integer("INVENTORY_DEFAULT_STOCK").pipe(Config.withDefault(1_000_000))

export const inventoryHandler = (inventory: Inventory) =>
  defineHandler({
    schema: OrderCommandMessage,
    handle: (command, ctx) =>
      Effect.gen(function* () {
        if (command.type === "ReserveStock") {
          const outcome = yield* reserveStock(inventory, command)
          return [outcome.ok
            ? yield* ctx.message(StockReserved, eventSubject("StockReserved"), StockReserved.make({ orderId: command.orderId }, checkedWhenSent), "reserved")
            : yield* ctx.message(StockRejected, eventSubject("StockRejected"), StockRejected.make({ orderId: command.orderId, reason: outcome.reason }, checkedWhenSent), "rejected")]
        }
        if (command.type === "ReleaseStock") {
          yield* releaseStock(inventory, command)
          return [yield* ctx.message(StockReleased, eventSubject("StockReleased"), StockReleased.make({ orderId: command.orderId }, checkedWhenSent), "released")]
        }
        return yield* new UnexpectedCommand({ worker: "inventory-worker", type: command.type })
      }),
    errors: { KvUnavailable: "retry", CorruptEntry: "dead-letter", EncodeError: "dead-letter", UnexpectedCommand: "dead-letter" }
  })

export const openInventory = (defaultStock: number) =>
  Effect.flatMap(NatsConnection, (client) => openJsonBucket(client, Buckets.inventoryStock, SkuStock, { encode: plainJson })).pipe(
    Effect.map((stock): Inventory => ({ stock, skus: cachedValues(stock, { capacity: 10_000 }), defaultStock }))
  )

/**
 * The inventory worker: executes ReserveStock and ReleaseStock from its durable. Environment:
 * `INVENTORY_DEFAULT_STOCK` (units a SKU starts with the first time it is seen, default 1000000).
 */
export const InventoryWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* ConsumerConfig
    const inventory = yield* openInventory(yield* InventoryConfig)
    yield* runJetStreamConsumer(inventoryHandler(inventory), {
      consumer: consumerSpec(Durables.inventory),
      retry: config.retry,
      concurrency: config.concurrency,
      handlerTimeoutMs: config.handlerTimeoutMs,
      ...(yield* workerOptions(Durables.inventory))
    })
  })
)
