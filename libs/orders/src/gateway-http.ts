import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { OrderId } from "@conveyor/domain"
import { currentSpanOption } from "@conveyor/telemetry"
import { Effect, Either, Layer, Option, Schema } from "effect"
import type { IncomingMessage } from "node:http"
import { bodyIssues, jsonDepth, MAX_BODY_DEPTH } from "./body-issues.js"
import { type FindError, Gateway, GatewayLive, type GatewayShape, type PlaceError, PlaceOrderBody } from "./gateway.js"

const json = (status: number, body: unknown, headers?: Record<string, string>) =>
  HttpServerResponse.unsafeJson(body, { status, ...(headers === undefined ? {} : { headers }) })

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

/** `application/json`, with or without parameters such as `charset`. */
export const isJsonContentType = (value: string | undefined): boolean =>
  value !== undefined && value.split(";")[0]!.trim().toLowerCase() === "application/json"

const decodeBody = Schema.decodeUnknownEither(PlaceOrderBody, { errors: "all", onExcessProperty: "error" })

/**
 * 503s say which side refused, so a client (and an operator reading it) knows whether to back off
 * (`stream-full`) or whether the broker is away (`broker-unavailable`); neither leaves an order behind
 * that GET would show.
 */
const unavailable = (error: PlaceError | FindError) => {
  switch (error._tag) {
    case "StreamFull":
      return json(503, { error: "the order stream is full; the order was not accepted, retry later", reason: "stream-full" }, { "retry-after": "5" })
    case "BrokerUnreachable":
      return json(503, { error: `${error.message}; retry (with the same Idempotency-Key)`, reason: "broker-unavailable" }, { "retry-after": "1" })
    case "KvUnavailable":
    case "PublishFailed":
      return json(503, { error: "the broker did not answer; retry (with the same Idempotency-Key)", reason: "broker-unavailable" }, { "retry-after": "1" })
    default:
      return json(503, { error: `the order store refused: ${error._tag}; retry later`, reason: "refused" })
  }
}

const placeOrder = (gateway: GatewayShape) => Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (!isJsonContentType(request.headers["content-type"])) return json(415, { error: "Content-Type must be application/json" })
  const tooLarge = json(413, { error: `body larger than ${gateway.maxBodyBytes} bytes` })
  const declared = Number(request.headers["content-length"] ?? NaN)
  if (declared > gateway.maxBodyBytes) return tooLarge
  const text = yield* Effect.async<string | undefined>((resume) => readLimited(NodeHttpServerRequest.toIncomingMessage(request), gateway.maxBodyBytes, (t) => resume(Effect.succeed(t))))
  if (text === undefined) return tooLarge
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return json(400, { error: "body is not valid JSON" })
  }
  if (jsonDepth(parsed) > MAX_BODY_DEPTH) return json(400, { error: `body nests deeper than ${MAX_BODY_DEPTH} levels`, field: "(body)" })
  const body = decodeBody(parsed)
  if (Either.isLeft(body)) {
    const issues = bodyIssues(body.left)
    const first = issues[0] ?? { field: "(body)", message: "invalid" }
    return json(400, { error: `invalid field ${first.field}: ${first.message}`, field: first.field, issues })
  }
  const key = Option.fromNullable(request.headers["idempotency-key"]).pipe(Option.filter((k) => k.length > 0))
  if (Option.isSome(key) && key.value.length > 200) return json(400, { error: "invalid field Idempotency-Key: at most 200 characters", field: "Idempotency-Key" })
  const span = yield* currentSpanOption
  return yield* gateway.place(body.right, key).pipe(
    Effect.map(({ orderId, duplicate }) =>
      json(202, { orderId, status: "accepted", duplicate, ...(Option.isSome(span) ? { traceId: span.value.traceId } : {}) })),
    Effect.catchAll((error) => {
      switch (error._tag) {
        case "OrderIdTaken":
          return Effect.succeed(json(409, { error: error.message, field: "orderId", orderId: error.orderId }))
        case "IdempotencyKeyReused":
          return Effect.succeed(json(422, { error: error.message, field: "Idempotency-Key" }))
        default:
          return Effect.logError("could not accept order", { error: error.message }).pipe(Effect.as(unavailable(error)))
      }
    })
  )
})

const getOrder = (gateway: GatewayShape) => Effect.gen(function* () {
  const { id } = yield* HttpLayerRouter.params
  if (id === undefined || Either.isLeft(Schema.decodeUnknownEither(OrderId)(id))) return json(404, { error: "unknown order" })
  return yield* gateway.find(id).pipe(
    Effect.map(Option.match({ onNone: () => json(404, { error: `unknown order ${id}` }), onSome: (view) => json(200, view) })),
    Effect.catchAll((error) => Effect.logError("could not read order", { error: error.message }).pipe(Effect.as(unavailable(error))))
  )
})

const notAllowed = (allow: string) => json(405, { error: `method not allowed; use ${allow}` }, { allow })
const otherMethods = ["PUT", "PATCH", "DELETE"] as const

/** `POST /orders` and `GET /orders/:id` (405 with `Allow` for other methods), to mount on the app's HTTP server; needs Gateway. */
export const GatewayRoutes = HttpLayerRouter.use((router) =>
  Effect.flatMap(Gateway, (gateway) =>
    router.addAll([
      HttpLayerRouter.route("POST", "/orders", placeOrder(gateway)),
      HttpLayerRouter.route("GET", "/orders/:id", getOrder(gateway)),
      ...(["GET", ...otherMethods] as const).map((method) => HttpLayerRouter.route(method, "/orders", notAllowed("POST"))),
      ...(["POST", ...otherMethods] as const).map((method) => HttpLayerRouter.route(method, "/orders/:id", notAllowed("GET")))
    ])
  )
)

export const GatewayRoutesLive = GatewayRoutes.pipe(Layer.provide(GatewayLive))
