import {
  Buckets, CustomerId, eventSubject, LineItems, OrderId, OrderPlaced, type OrderSummary, itemsTotalCents, orderWorkflow, summarizeOrder
} from "@conveyor/domain"
import { encodeMessage, type EncodeError, Publisher, type PublishError, timeoutFailOnceWaiting } from "@conveyor/messaging"
import { NatsConnection } from "@conveyor/nats"
import { type CorruptEntry, type JsonBucket, type KvUnavailable, makeJsonBucket, openJsonBucket, plainJson } from "@conveyor/orchestration"
import { injectTraceHeaders } from "@conveyor/telemetry"
import { type HistoryEntry, instanceSchema } from "@conveyor/workflow"
import { Config, Context, Data, Effect, Either, Layer, Option, Schema } from "effect"
import { createHash, randomUUID } from "node:crypto"

/** What a client sends to place an order; `orderId` is optional (generated when absent). */
export const PlaceOrderBody = Schema.Struct({
  customerId: CustomerId,
  items: LineItems.pipe(
    Schema.maxItems(100),
    // The order's total must be a whole number of cents JavaScript counts exactly, as OrderPlaced's is.
    Schema.filter((items) => itemsTotalCents(items) <= Number.MAX_SAFE_INTEGER || `the order's total exceeds ${Number.MAX_SAFE_INTEGER} cents`)
  ),
  orderId: Schema.optional(OrderId)
})
export type PlaceOrderBody = typeof PlaceOrderBody.Type

/**
 * `key.<Idempotency-Key>` in gateway-requests: the order a key stands for, bound to the fingerprint
 * of the request that claimed it.
 */
export const KeyRecord = Schema.Struct({ orderId: Schema.String, fingerprint: Schema.String, event: OrderPlaced })
export type KeyRecord = typeof KeyRecord.Type

/**
 * `order.<orderId>` in gateway-requests: the request an order id was taken by. `accepted` turns true
 * once the OrderPlaced is confirmed stored; until then the order does not exist for GET.
 */
export const OrderRecord = Schema.Struct({ fingerprint: Schema.String, event: OrderPlaced, accepted: Schema.Boolean })
export type OrderRecord = typeof OrderRecord.Type

export interface OrderView extends Partial<Omit<OrderSummary, "status">> {
  readonly orderId: string
  readonly status: OrderSummary["status"] | "accepted"
  /** The full workflow state (order snapshot, attempt, payment id...). */
  readonly detail?: unknown
  readonly history: ReadonlyArray<HistoryEntry>
}

/**
 * Environment: `GATEWAY_MAX_BODY_BYTES` (default 16384): larger bodies get 413;
 * `GATEWAY_REQUEST_TIMEOUT_MS` (default 2000): a request the broker has not answered by then gets 503.
 */
export const GatewayConfig = Config.all({
  maxBodyBytes: Config.integer("GATEWAY_MAX_BODY_BYTES").pipe(Config.withDefault(16_384)),
  requestTimeoutMs: Config.integer("GATEWAY_REQUEST_TIMEOUT_MS").pipe(
    Config.validate({ message: "GATEWAY_REQUEST_TIMEOUT_MS must be a positive number of milliseconds", validation: (n) => n > 0 }),
    Config.withDefault(2_000)
  )
})

/** The order id is already taken by a different request. */
export class OrderIdTaken extends Data.TaggedError("OrderIdTaken")<{ readonly orderId: string }> {
  override get message() {
    return `order id ${this.orderId} is already taken by a different order`
  }
}

/** The Idempotency-Key was first used with a different request body. */
export class IdempotencyKeyReused extends Data.TaggedError("IdempotencyKeyReused")<{ readonly key: string }> {
  override get message() {
    return `Idempotency-Key ${this.key} was already used for a different request`
  }
}

/** The connection is down, or the broker did not answer within the request timeout. */
export class BrokerUnreachable extends Data.TaggedError("BrokerUnreachable")<{ readonly detail: string }> {
  override get message() {
    return `broker unreachable: ${this.detail}`
  }
}

export type PlaceError = OrderIdTaken | IdempotencyKeyReused | BrokerUnreachable | KvUnavailable | CorruptEntry | PublishError | EncodeError
export type FindError = BrokerUnreachable | KvUnavailable | CorruptEntry

export interface GatewayShape {
  /**
   * Publishes OrderPlaced once per order id and per Idempotency-Key; `duplicate` when the key (or,
   * without one, the client's order id) was recorded by an earlier request with the same body.
   */
  readonly place: (body: PlaceOrderBody, idempotencyKey: Option.Option<string>) => Effect.Effect<{ orderId: string; duplicate: boolean }, PlaceError>
  readonly find: (orderId: string) => Effect.Effect<Option.Option<OrderView>, FindError>
  /** Requests answered from an earlier one (same Idempotency-Key, or same order id and body). */
  readonly duplicates: () => number
  readonly maxBodyBytes: number
}

export class Gateway extends Context.Tag("@conveyor/orders/Gateway")<Gateway, GatewayShape>() {}

const idempotencyKeyOf = (key: string): string => `key.${Buffer.from(key).toString("base64url")}`
const orderKeyOf = (orderId: string): string => `order.${orderId}`
const newOrderId = (): string => `ord_${randomUUID().replaceAll("-", "")}`

/** The request in a canonical form (items by SKU, the client's order id if any), hashed. */
export const fingerprintOf = (body: PlaceOrderBody): string =>
  createHash("sha256").update(JSON.stringify([
    body.orderId ?? null,
    body.customerId,
    [...body.items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)).map((i) => [i.sku, i.quantity, i.unitPriceCents])
  ])).digest("hex")

/**
 * A refusal that says the message was not stored. Anything else (timeout, lost connection) may
 * have stored it, so the records stay and a retry with the same body finishes the order.
 */
const refusedForSure = (error: PlaceError): boolean =>
  error._tag === "StreamFull" || error._tag === "NoStreamForSubject" || error._tag === "PayloadTooLarge" ||
  error._tag === "EncodeError" || (error._tag === "PublishFailed" && !error.retryable)

export const makeGateway = (deps: {
  readonly requests: JsonBucket<KeyRecord>
  readonly orders: JsonBucket<OrderRecord>
  readonly workflows: JsonBucket<Schema.Schema.Type<ReturnType<typeof instanceSchema<any, any, any, any>>>>
  readonly publisher: Publisher["Type"]
  readonly isConnected: Effect.Effect<boolean>
  readonly maxBodyBytes: number
  readonly requestTimeoutMs: number
}): GatewayShape => {
  let duplicates = 0
  const publish = (event: OrderPlaced) =>
    Effect.flatMap(injectTraceHeaders(), (headers) =>
      encodeMessage(OrderPlaced, eventSubject("OrderPlaced"), event, { msgId: `placed:${event.orderId}`, headers })
    ).pipe(Effect.flatMap(deps.publisher.publish))
  // Built from a decoded body, and validated once, where it leaves (`publish` encodes it).
  const build = (body: PlaceOrderBody): OrderPlaced =>
    OrderPlaced.make({
      orderId: body.orderId ?? newOrderId(), customerId: body.customerId, items: body.items,
      totalCents: itemsTotalCents(body.items), placedAt: new Date().toISOString()
    }, { disableValidation: true })
  /** Creates `key`, or reads what is there; `created` carries the new revision. */
  const claim = <A>(bucket: JsonBucket<A>, key: string, value: A): Effect.Effect<{ value: A; created: Option.Option<number> }, KvUnavailable | CorruptEntry> =>
    Effect.either(bucket.create(key, value)).pipe(
      Effect.flatMap((created) => {
        if (Either.isRight(created)) return Effect.succeed({ value, created: Option.some(created.right) })
        if (created.left._tag === "KvUnavailable") return Effect.fail(created.left)
        return bucket.get(key).pipe(Effect.flatMap((found) =>
          found === undefined
            // Deleted between our create and get (a refused request released it): claim again.
            ? claim(bucket, key, value)
            : Effect.succeed({ value: found.value, created: Option.none<number>() })
        ))
      })
    )
  // Either both ends are up and answer in time, or the client hears so at once: never a hang.
  const bounded = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | BrokerUnreachable> =>
    Effect.flatMap(deps.isConnected, (connected) =>
      connected
        ? timeoutFailOnceWaiting(effect, deps.requestTimeoutMs, () => new BrokerUnreachable({ detail: `no answer within ${deps.requestTimeoutMs} ms` }))
        : Effect.fail(new BrokerUnreachable({ detail: "not connected to NATS" }))
    )

  const place = (body: PlaceOrderBody, key: Option.Option<string>) =>
    Effect.gen(function* () {
      const fingerprint = fingerprintOf(body)
      // Records this request created; a refused publish removes them again.
      const createdHere: Array<{ bucket: JsonBucket<any>; key: string; revision: number }> = []
      const release = Effect.forEach(createdHere, (c) => Effect.ignore(c.bucket.remove(c.key, c.revision)), { discard: true })
      const work = Effect.gen(function* () {
        let event = build(body)
        let repeat = false
        if (Option.isSome(key)) {
          // `create` decides between concurrent requests with one key: one claims it, the others
          // answer with its order.
          const k = idempotencyKeyOf(key.value)
          const held = yield* claim(deps.requests, k, { orderId: event.orderId, fingerprint, event })
          if (held.value.fingerprint !== fingerprint) return yield* new IdempotencyKeyReused({ key: key.value })
          if (Option.isSome(held.created)) createdHere.push({ bucket: deps.requests, key: k, revision: held.created.value })
          event = held.value.event
          repeat = Option.isNone(held.created)
        }
        const orderKey = orderKeyOf(event.orderId)
        let accepted = false
        if (body.orderId !== undefined || repeat) {
          // A client's order id is claimed before publishing, so a second order cannot reuse it:
          // the stream would drop its OrderPlaced as a duplicate message id.
          const held = yield* claim(deps.orders, orderKey, { fingerprint, event, accepted: false })
          if (held.value.fingerprint !== fingerprint) return yield* new OrderIdTaken({ orderId: event.orderId })
          if (Option.isSome(held.created)) createdHere.push({ bucket: deps.orders, key: orderKey, revision: held.created.value })
          else if (Option.isNone(key)) repeat = true
          event = held.value.event
          accepted = held.value.accepted
        }
        if (!accepted) {
          // Publishing again on a repeat is harmless (same message id) and completes a first
          // request that recorded its key but stopped before the PubAck.
          yield* publish(event)
          yield* deps.orders.put(orderKey, { fingerprint, event, accepted: true })
        }
        return { orderId: event.orderId, duplicate: repeat }
      })
      const result = yield* bounded(work).pipe(
        Effect.tapError((error) => (refusedForSure(error) || error._tag === "OrderIdTaken" ? Effect.ignore(bounded(release)) : Effect.void))
      )
      if (result.duplicate) duplicates++
      return result
    })

  return {
    maxBodyBytes: deps.maxBodyBytes,
    duplicates: () => duplicates,
    place,
    find: (orderId) =>
      bounded(Effect.gen(function* () {
        const instance = yield* deps.workflows.get(orderId)
        if (instance !== undefined) {
          const value = instance.value
          return Option.some({ ...summarizeOrder(value), detail: value.state, history: value.history } as OrderView)
        }
        const placed = yield* deps.orders.get(orderKeyOf(orderId))
        return placed?.value.accepted === true ? Option.some({ orderId, status: "accepted", history: [] } as OrderView) : Option.none()
      }))
  }
}

export const GatewayLive = Layer.effect(
  Gateway,
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const config = yield* GatewayConfig
    const requests = yield* openJsonBucket(client, Buckets.gatewayRequests, KeyRecord, { encode: plainJson })
    return makeGateway({
      requests,
      orders: makeJsonBucket(client, requests.kv, Buckets.gatewayRequests, OrderRecord, { encode: plainJson }),
      workflows: yield* openJsonBucket(client, Buckets.workflows, instanceSchema(orderWorkflow)),
      publisher: yield* Publisher,
      isConnected: client.isConnected,
      maxBodyBytes: config.maxBodyBytes,
      requestTimeoutMs: config.requestTimeoutMs
    })
  })
)
