import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { RouteContext } from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import { Cause, Clock, Config, Effect, Exit, Option } from "effect"

const headerList = (name: string) =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.map((list) => list.split(",").map((h) => h.trim().toLowerCase()).filter((h) => h.length > 0))
  )

/**
 * Header names recorded on HTTP server spans, none by default (headers can carry credentials and
 * idempotency keys): the variables OpenTelemetry's HTTP instrumentations read, comma-separated.
 */
export const HttpCapturedHeaders = Config.all({
  request: headerList("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"),
  response: headerList("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE")
})

/** What the client sees, and what the span says about it: 499 when the client left first. */
const statusOf = (exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>): number =>
  Exit.isSuccess(exit) ? exit.value.status : Cause.isInterruptedOnly(exit.cause) ? 499 : HttpServerError.exitResponse(exit).status

const failed = (name: string, message: string): Exit.Exit<never, Error> => Exit.fail(Object.assign(new Error(message), { name }))

/**
 * A SERVER span per request of the routes it is provided to, named `{method} {route}` with the
 * route's pattern (the HTTP conventions), continuing a `traceparent` the client sent. Status ERROR
 * only for 5xx (`error.type` the status) and for a client that closed the connection before the
 * answer (`error.type` `ClientAbort`, status 499), each with a one-line message. Headers are recorded
 * only when listed in HttpCapturedHeaders.
 */
export const HttpServerSpans = HttpLayerRouter.middleware(
  Effect.map(HttpCapturedHeaders, (capture) => (effect) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => Effect.flatMap(RouteContext, ({ route }) => {
      const url = Option.getOrUndefined(HttpServerRequest.toURL(request))
      const attributes: Record<string, unknown> = {
        "http.request.method": request.method,
        "http.route": route.path,
        ...(url === undefined ? {} : { "url.path": url.pathname, "url.scheme": url.protocol.slice(0, -1) }),
        ...(request.headers["user-agent"] === undefined ? {} : { "user_agent.original": request.headers["user-agent"] }),
        ...(request.remoteAddress._tag === "Some" ? { "client.address": request.remoteAddress.value } : {})
      }
      for (const name of capture.request) {
        const value = request.headers[name]
        if (value !== undefined) attributes[`http.request.header.${name}`] = value
      }
      const parent = Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers))
      return Effect.flatMap(
        Effect.makeSpan(`${request.method} ${route.path}`, { kind: "server", attributes, captureStackTrace: false, ...(parent === undefined ? {} : { parent }) }),
        (span) =>
          Effect.withParentSpan(effect, span).pipe(
            Effect.onExit((exit) =>
              Effect.flatMap(Clock.currentTimeNanos, (now) =>
                Effect.sync(() => {
                  const status = statusOf(exit)
                  span.attribute("http.response.status_code", status)
                  if (Exit.isSuccess(exit)) {
                    for (const name of capture.response) {
                      const value = exit.value.headers[name]
                      if (value !== undefined) span.attribute(`http.response.header.${name}`, value)
                    }
                  }
                  if (status === 499) span.attribute("error.type", "ClientAbort")
                  else if (status >= 500) span.attribute("error.type", String(status))
                  span.end(now, status === 499
                    ? failed("ClientAbort", "the client closed the connection before the response")
                    : status >= 500 ? failed(`HTTP ${status}`, `responded ${status}`) : Exit.void)
                })
              )
            )
          )
      )
    }))
  )
).layer
