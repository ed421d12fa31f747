import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import {
  Buckets, CustomerId, eventSubject, LineItems, OrderId, OrderPlaced, type OrderSummary, itemsTotalCents, orderWorkflow, summarizeOrder
} from "@conveyor/domain"
import { encodeMessage, Publisher } from "@conveyor/messaging"
import { NatsConnection } from "@conveyor/nats"
import { type JsonBucket, openJsonBucket } from "@conveyor/orchestration"
import { injectTraceHeaders } from "@conveyor/telemetry"
import { type HistoryEntry, instanceSchema } from "@conveyor/workflow"
import { Config, Context, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import { randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"

/** What a client sends to place an order; `orderId` is optional (generated when absent). */
export const PlaceOrderBody = Schema.Struct({
  customerId: CustomerId,
  items: LineItems.pipe(Schema.maxItems(100)),
  orderId: Schema.optional(OrderId)
})
export type PlaceOrderBody = typeof PlaceOrderBody.Type

/** A gateway-requests entry: the OrderPlaced an Idempotency-Key (or an order id) stands for. */
export const PlacedRecord = Schema.Struct({ orderId: Schema.String, event: OrderPlaced })
export type PlacedRecord = typeof PlacedRecord.Type

export interface OrderView extends Partial<Omit<OrderSummary, "status">> {
  readonly orderId: string
  readonly status: OrderSummary["status"] | "accepted"
  /** The full workflow state (order snapshot, attempt, payment id...). */
  readonly detail?: unknown
  readonly history: ReadonlyArray<HistoryEntry>
}

/** Environment: `GATEWAY_MAX_BODY_BYTES` (default 16384): larger bodies get 413. */
export const GatewayConfig = Config.all({
  maxBodyBytes: Config.integer("GATEWAY_MAX_BODY_BYTES").pipe(Config.withDefault(16_384))
})

const idempotencyKeyOf = (key: string): string => `key.${Buffer.from(key).toString("base64url")}`
const orderKeyOf = (orderId: string): string => `order.${orderId}`
const newOrderId = (): string => `ord_${randomUUID().replaceAll("-", "")}`

export interface GatewayShape {
  /** Publishes OrderPlaced (once per Idempotency-Key); `duplicate` when the key was seen before. */
  readonly place: (body: PlaceOrderBody, idempotencyKey: Option.Option<string>) => Effect.Effect<{ orderId: string; duplicate: boolean }, unknown>
  readonly find: (orderId: string) => Effect.Effect<Option.Option<OrderView>, unknown>
  /** Requests answered from an earlier one with the same Idempotency-Key. */
  readonly duplicates: () => number
  readonly maxBodyBytes: number
}

export class Gateway extends Context.Tag("@conveyor/orders/Gateway")<Gateway, GatewayShape>() {}

export const makeGateway = (deps: {
  readonly requests: JsonBucket<PlacedRecord>
  readonly workflows: JsonBucket<Schema.Schema.Type<ReturnType<typeof instanceSchema<any, any, any>>>>
  readonly publisher: Publisher["Type"]
  readonly maxBodyBytes: number
}): GatewayShape => {
  let duplicates = 0
  const publish = (event: OrderPlaced) =>
    Effect.flatMap(injectTraceHeaders(), (headers) =>
      encodeMessage(OrderPlaced, eventSubject("OrderPlaced"), event, { msgId: `placed:${event.orderId}`, headers })
    ).pipe(Effect.flatMap(deps.publisher.publish))
  const build = (body: PlaceOrderBody): OrderPlaced =>
    OrderPlaced.make({
      orderId: body.orderId ?? newOrderId(), customerId: body.customerId, items: body.items,
      totalCents: itemsTotalCents(body.items), placedAt: new Date().toISOString()
    })
  const remember = (event: OrderPlaced) => deps.requests.put(orderKeyOf(event.orderId), { orderId: event.orderId, event })
  return {
    maxBodyBytes: deps.maxBodyBytes,
    duplicates: () => duplicates,
    place: (body, key) =>
      Effect.gen(function* () {
        if (Option.isNone(key)) {
          const event = build(body)
          yield* remember(event)
          yield* publish(event)
          return { orderId: event.orderId, duplicate: false }
        }
        const k = idempotencyKeyOf(key.value)
        const fresh = build(body)
        // The key is claimed with `create`: of two concurrent requests with one key, one wins and
        // the other answers with the winner's order.
        const claimed = yield* Effect.either(deps.requests.create(k, { orderId: fresh.orderId, event: fresh }))
        if (Either.isLeft(claimed) && claimed.left._tag === "KvUnavailable") return yield* claimed.left
        const record = Either.isRight(claimed) ? { orderId: fresh.orderId, event: fresh } : (yield* deps.requests.get(k))?.value
        if (record === undefined) return yield* Effect.fail("idempotency record vanished; try again")
        // Publishing again on a repeat is harmless (same message id) and completes a first request
        // that stored its key but crashed before publishing.
        yield* remember(record.event)
        yield* publish(record.event)
        if (Either.isLeft(claimed)) duplicates++
        return { orderId: record.orderId, duplicate: Either.isLeft(claimed) }
      }),
    find: (orderId) =>
      Effect.gen(function* () {
        const instance = yield* deps.workflows.get(orderId)
        if (instance !== undefined) {
          const value = instance.value
          return Option.some({ ...summarizeOrder(value), detail: value.state, history: value.history } as OrderView)
        }
        const placed = yield* deps.requests.get(orderKeyOf(orderId))
        return placed === undefined ? Option.none() : Option.some({ orderId, status: "accepted", history: [] } as OrderView)
      })
  }
}

export const GatewayLive = Layer.effect(
  Gateway,
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const config = yield* GatewayConfig
    return makeGateway({
      requests: yield* openJsonBucket(client, Buckets.gatewayRequests, PlacedRecord),
      workflows: yield* openJsonBucket(client, Buckets.workflows, instanceSchema(orderWorkflow)),
      publisher: yield* Publisher,
      maxBodyBytes: config.maxBodyBytes
    })
  })
)

const json = (status: number, body: unknown) => HttpServerResponse.unsafeJson(body, { status })

/**
 * Reads at most `limit` bytes of a body; past it, answers undefined and discards the rest rather
 * than destroying the socket, so the client still reads the 413 (a chunked body has no length to
 * reject up front).
 */
const readLimited = (raw: IncomingMessage, limit: number, done: (text: string | undefined) => void) => {
  const chunks: Array<Buffer> = []
  let size = 0
  let finished = false
  const finish = (text: string | undefined) => {
    if (finished) return
    finished = true
    done(text)
  }
  raw.on("data", (chunk: Buffer) => {
    if (finished) return
    size += chunk.length
    if (size > limit) {
      chunks.length = 0
      finish(undefined)
    } else chunks.push(chunk)
  })
  raw.on("end", () => finish(Buffer.concat(chunks).toString("utf8")))
  raw.on("error", () => finish(undefined))
}

const decodeBody = Schema.decodeUnknownEither(PlaceOrderBody, { errors: "all", onExcessProperty: "error" })

const placeOrder = (gateway: GatewayShape) => Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const declared = Number(request.headers["content-length"] ?? NaN)
  if (declared > gateway.maxBodyBytes) return json(413, { error: `body larger than ${gateway.maxBodyBytes} bytes` })
  const text = yield* Effect.async<string | undefined>((resume) => readLimited(NodeHttpServerRequest.toIncomingMessage(request), gateway.maxBodyBytes, (t) => resume(Effect.succeed(t))))
  if (text === undefined) return json(413, { error: `body larger than ${gateway.maxBodyBytes} bytes` })
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return json(400, { error: "body is not valid JSON" })
  }
  const body = decodeBody(parsed)
  if (Either.isLeft(body)) {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(body.left).map((i) => ({ field: i.path.join(".") || "(body)", message: i.message }))
    return json(400, { error: `invalid field ${issues[0]?.field ?? "(body)"}: ${issues[0]?.message ?? "invalid"}`, field: issues[0]?.field, issues })
  }
  const key = Option.fromNullable(request.headers["idempotency-key"]).pipe(Option.filter((k) => k.length > 0))
  if (Option.isSome(key) && key.value.length > 200) return json(400, { error: "invalid field Idempotency-Key: at most 200 characters", field: "Idempotency-Key" })
  const span = yield* Effect.option(Effect.currentSpan)
  return yield* gateway.place(body.right, key).pipe(
    Effect.map(({ orderId, duplicate }) =>
      json(202, { orderId, status: "accepted", duplicate, ...(Option.isSome(span) ? { traceId: span.value.traceId } : {}) })),
    Effect.catchAll((error) =>
      Effect.logError("could not accept order", { error: String(error) }).pipe(Effect.as(json(503, { error: "order store or broker unavailable; retry" }))))
  )
})

const getOrder = (gateway: GatewayShape) => Effect.gen(function* () {
  const { id } = yield* HttpLayerRouter.params
  if (id === undefined || Either.isLeft(Schema.decodeUnknownEither(OrderId)(id))) return json(404, { error: "unknown order" })
  return yield* gateway.find(id).pipe(
    Effect.map(Option.match({ onNone: () => json(404, { error: `unknown order ${id}` }), onSome: (view) => json(200, view) })),
    Effect.catchAll((error) =>
      Effect.logError("could not read order", { error: String(error) }).pipe(Effect.as(json(503, { error: "order store unavailable; retry" }))))
  )
})

/** `POST /orders` and `GET /orders/:id`, to mount on the app's HTTP server (with the ops routes); needs Gateway. */
export const GatewayRoutes = HttpLayerRouter.use((router) =>
  Effect.flatMap(Gateway, (gateway) =>
    router.addAll([
      HttpLayerRouter.route("POST", "/orders", placeOrder(gateway)),
      HttpLayerRouter.route("GET", "/orders/:id", getOrder(gateway))
    ])
  )
)

export const GatewayRoutesLive = GatewayRoutes.pipe(Layer.provide(GatewayLive))
