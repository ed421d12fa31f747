import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { RouteContext } from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Exit, Option } from "effect"
import { Metrics } from "../metrics.js"

/**
 * Times every request of the routes it is provided to into `conveyor_http_request_duration_seconds`
 * by method, route pattern (`/orders/:id`, so ids never become label values) and status; a handler
 * that fails or dies counts as 500. Without Metrics it does nothing.
 */
export const HttpRequestMetrics = HttpLayerRouter.middleware(
  Effect.map(Effect.serviceOption(Metrics), (metrics) => (effect) => {
    if (Option.isNone(metrics)) return effect
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => Effect.flatMap(RouteContext, (context) => {
      const start = performance.now()
      return Effect.onExit(effect, (exit) =>
        metrics.value.recordHttpRequest(
          { method: request.method, route: context.route.path, status: Exit.isSuccess(exit) ? exit.value.status : 500 },
          performance.now() - start
        ))
    }))
  })
).layer
