import { defineHandler } from "@conveyor/messaging"
import { NatsConnection, runJetStreamConsumer } from "@conveyor/nats"
import { type CorruptEntry, type JsonBucket, type KvUnavailable, makeJsonBucket, openJsonBucket, plainJson } from "@conveyor/orchestration"
import {
  Buckets, Durables, eventSubject, OrderCommandMessage, type ReleaseStock, type ReserveStock, StockRejected, StockReleased,
  StockReserved
} from "@conveyor/domain"
import { randomBytes } from "node:crypto"
import { Config, Data, Effect, Layer } from "effect"
import { ConsumerConfig, consumerSpec, workerOptions, checkedWhenSent } from "./consumers.js"
import { cachedValues, type CachedValues, Drops } from "./step-store.js"
import { dropClosed, dropConfirmed, giveBack, type HeldLine, hold, holdMark, Reservation, reservationKey, SkuStock, skuKey, undoHold } from "./stock.js"

export class UnexpectedCommand extends Data.TaggedError("UnexpectedCommand")<{ readonly worker: string; readonly type: string }> {
  override get message() {
    return `${this.worker} does not execute ${this.type}`
  }
}

export interface Inventory {
  readonly stock: JsonBucket<SkuStock>
  /** Compare-and-set on `stock` from the SKU values this process last saw (no read before each hold). */
  readonly skus: CachedValues<SkuStock>
  /** The orders' reservation records, in the same bucket. */
  readonly records: JsonBucket<Reservation>
  /** Entries this process may drop from a SKU's value with its next write there (their records are final). */
  readonly drops: Drops<SkuStock>
  /** When this process last swept each SKU's value for entries left behind (or first saw it with entries). */
  readonly sweptAt: Map<string, number>
  readonly sweep: SweepTiming
  readonly defaultStock: number
}

/** How often a writer sweeps a SKU's value (see `sweep`). */
export interface SweepTiming {
  /** A value with `SWEEP_AT` entries or more: at most this often (default 5 s). */
  readonly largeEveryMs: number
  /** A value with fewer entries: once this long after the writer first saw it with entries, then as often (default 60 s). */
  readonly smallEveryMs: number
}

export const makeInventory = (
  stock: JsonBucket<SkuStock>, records: JsonBucket<Reservation>, defaultStock: number, sweep: Partial<SweepTiming> = {}
): Inventory => ({
  stock, records, defaultStock, skus: cachedValues(stock, { capacity: 10_000 }), drops: new Drops<SkuStock>(), sweptAt: new Map(),
  sweep: { largeEveryMs: 5_000, smallEveryMs: 60_000, ...sweep }
})

const fresh = (inventory: Inventory): SkuStock => ({ available: inventory.defaultStock, held: {}, closed: [], by: {}, dropped: 0 })

/** A SKU's decision, carrying the entries due to leave its value when it writes anyway (never a write of its own). */
const atSku = <B>(inventory: Inventory, sku: string, decide: (stock: SkuStock) => { readonly next?: SkuStock; readonly result: B }) => {
  const key = skuKey(sku)
  const due = inventory.drops.due(key)
  // Whether the decision that was stored (the last one taken) carried them: one that wrote nothing did not.
  let carried = false
  let seen: SkuStock | undefined
  return inventory.skus.modify(key, (s) => {
    seen = s ?? fresh(inventory)
    const decision = decide(seen)
    carried = decision.next !== undefined && due.length > 0
    return carried ? { next: due.reduce((v, drop) => drop(v), decision.next!), result: decision.result } : decision
  }).pipe(Effect.tap(() => {
    if (carried) inventory.drops.done(key, due)
    return seen !== undefined && needsSweep(inventory, key, seen) ? Effect.forkDaemon(sweep(inventory, key, seen)) : Effect.void
  }))
}

/** Entries in a SKU's value from which its writers look for some left behind at once and often (see `sweep`). */
export const SWEEP_AT = 256
/** SKUs whose sweep times a process keeps; the oldest is forgotten (its clock starts again). */
const SWEPT_KEYS = 10_000
const needsSweep = (inventory: Inventory, key: string, stock: SkuStock): boolean => {
  const entries = Object.keys(stock.held).length + stock.closed.length
  if (entries === 0) return false
  const large = entries >= SWEEP_AT
  const now = Date.now()
  const last = inventory.sweptAt.get(key)
  if (last !== undefined && last + (large ? inventory.sweep.largeEveryMs : inventory.sweep.smallEveryMs) > now) return false
  if (last === undefined && inventory.sweptAt.size >= SWEPT_KEYS) inventory.sweptAt.delete(inventory.sweptAt.keys().next().value as string)
  inventory.sweptAt.set(key, now)
  // A small value's entries are mostly orders under way: its first look waits a whole period.
  return last !== undefined || large
}

/**
 * An order's entries leave a SKU's value with the next write of the process that settled its
 * record; one that died first, or never writes the SKU again, leaves them behind. A writer reads
 * the records of a value's entries (`needsSweep`: at most every few seconds per SKU once the value
 * has `SWEEP_AT` entries, about once a minute below that) and drops those whose records are final
 * with its own next writes. A hold its order's record does not confirm is stray (an attempt that
 * died between its hold and its undo, with no redelivery to finish it): it is undone the same way,
 * its units freed. Holds of orders without a record are under way: they stay.
 */
const sweep = (inventory: Inventory, key: string, stock: SkuStock): Effect.Effect<void> =>
  Effect.forEach(
    [...Object.keys(stock.held).map((orderId) => ({ orderId, closed: false })), ...stock.closed.map((orderId) => ({ orderId, closed: true }))],
    ({ orderId, closed }) =>
      Effect.map(inventory.records.get(reservationKey(orderId)), (found) => {
        const record = found?.value
        if (record === undefined) return
        if (closed) {
          if (record._tag === "Released") inventory.drops.add(key, (s) => dropClosed(s, orderId))
          return
        }
        const by = holdMark(stock, orderId)
        const confirmed = record._tag === "Held" || record._tag === "Releasing" ? record.lines.find((l) => skuKey(l.sku) === key)?.by : undefined
        if (confirmed !== by) inventory.drops.add(key, (s) => undoHold(s, orderId, confirmed).next ?? s)
        else if (record._tag === "Held") inventory.drops.add(key, (s) => dropConfirmed(s, orderId, by))
      }),
    { concurrency: 16, discard: true }
  ).pipe(Effect.ignore)

/**
 * An attempt's mark on its holds: only needs to differ between attempts at one order, in this
 * process or another (a random prefix per process, then a counter: no random bytes per attempt).
 */
const processMark = randomBytes(6).toString("base64url")
let attempts = 0
const attemptMark = (): string => `${processMark}${(attempts++).toString(36)}`

/** The order's record: `mine` if there was none, else the one already there (a record is never deleted). */
const createOrRead = (inventory: Inventory, orderId: string, mine: Reservation): Effect.Effect<Reservation, KvUnavailable | CorruptEntry> =>
  inventory.records.create(reservationKey(orderId), mine).pipe(
    Effect.as(mine),
    Effect.catchTag("RevisionConflict", () =>
      Effect.flatMap(inventory.records.get(reservationKey(orderId)), (found) => (found === undefined ? createOrRead(inventory, orderId, mine) : Effect.succeed(found.value))))
  )

const RELEASED = "the order's stock was already released"

/**
 * Reserves every line or none. The holds come first, one SKU at a time (each a compare-and-set
 * from the cached value), then the order's record is created: the first attempt to create it
 * decides the answer for good. An attempt then undoes every hold of the order the record does not
 * confirm (its own after a refusal, or a second hold after an earlier attempt won), so a re-run
 * after a crash, a duplicate, a re-sent attempt or one racing a release converges on the same
 * holdings and answer. Confirmed holds leave the SKU values with their next writes.
 */
export const reserveStock = (inventory: Inventory, command: ReserveStock) =>
  Effect.gen(function* () {
    const { orderId, items } = command
    const mark = attemptMark()
    const lines: Array<HeldLine> = []
    let refused: string | undefined
    for (const item of items) {
      const held = yield* atSku(inventory, item.sku, (s) => hold(s, orderId, item.quantity, mark))
      if (held.outcome === "closed" || held.outcome === "insufficient") {
        refused = held.outcome === "closed" ? RELEASED : `not enough ${item.sku}`
        break
      }
      lines.push({ sku: item.sku, quantity: item.quantity, by: held.by })
    }
    const record = yield* createOrRead(inventory, orderId, refused === undefined ? { _tag: "Held", lines } : { _tag: "Rejected", reason: refused })
    // A releasing record's holds are the release's to give back: only the others are undone here.
    const confirmed = record._tag === "Held" || record._tag === "Releasing" ? record.lines : []
    const confirmedAt = (sku: string) => confirmed.find((l) => l.sku === sku)?.by
    // After a confirmation only our holds can differ from it; otherwise every line may hold something (an earlier attempt's).
    const suspects: ReadonlyArray<{ readonly sku: string }> = record._tag === "Held" ? lines.filter((l) => l.by !== confirmedAt(l.sku)) : items
    yield* Effect.forEach(suspects, (l) => atSku(inventory, l.sku, (s) => undoHold(s, orderId, confirmedAt(l.sku))), { discard: true })
    if (record._tag === "Held") {
      for (const line of record.lines) inventory.drops.add(skuKey(line.sku), (s) => dropConfirmed(s, orderId, line.by))
      return { ok: true as const }
    }
    return { ok: false as const, reason: record._tag === "Rejected" ? record.reason : RELEASED }
  })

/**
 * Gives back what the order holds and leaves its record released, which refuses any reservation
 * still to come. A held record turns releasing first, so a re-run after a crash knows which lines
 * to give back; each SKU keeps the order closed until the record says released. Each SKU's count
 * of dropped closed marks is read (not from the cache) before the record, so a give-back after a
 * release that finished meanwhile is told "stale" and this starts over.
 */
export const releaseStock = (inventory: Inventory, command: ReleaseStock): Effect.Effect<void, KvUnavailable | CorruptEntry> =>
  Effect.gen(function* () {
    const key = reservationKey(command.orderId)
    const { orderId } = command
    const seen = new Map<string, number>()
    for (const item of command.items) seen.set(item.sku, (yield* inventory.stock.get(skuKey(item.sku)))?.value.dropped ?? 0)
    const found = yield* inventory.records.get(key)
    const record = found?.value
    if (record?._tag === "Held" || record?._tag === "Releasing") {
      const lines = record.lines
      const revision = record._tag === "Held" ? yield* inventory.records.update(key, { _tag: "Releasing", lines }, found!.revision) : found!.revision
      for (const line of lines) {
        const given = yield* atSku(inventory, line.sku, (s) => giveBack(s, orderId, line, seen.get(line.sku) ?? 0))
        if (given === "stale") return yield* releaseStock(inventory, command)
      }
      yield* inventory.records.update(key, { _tag: "Released" }, revision)
      for (const line of lines) inventory.drops.add(skuKey(line.sku), (s) => dropClosed(s, orderId))
      return
    }
    if (record === undefined) yield* inventory.records.create(key, { _tag: "Released" })
    // Nothing held for good (none, refused or released): any hold of the order here is a stray one.
    yield* Effect.forEach(command.items, (item) => atSku(inventory, item.sku, (s) => undoHold(s, orderId, undefined)), { discard: true })
  }).pipe(
    // The record moved since it was read (another release, or a reservation creating it): start over from it.
    Effect.catchTag("RevisionConflict", () => releaseStock(inventory, command))
  )

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
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const stock = yield* openJsonBucket(client, Buckets.inventoryStock, SkuStock, { encode: plainJson })
    return makeInventory(stock, makeJsonBucket(client, stock.kv, stock.name, Reservation, { encode: plainJson }), defaultStock)
  })

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
