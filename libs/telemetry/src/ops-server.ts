import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { HttpRequestMetrics } from "./http-metrics.js"
import { HttpServerSpans } from "./http-server-spans.js"
import { Metrics } from "./metrics.js"
import { Readiness } from "./readiness.js"

export interface OpsServerConfig {
  readonly host: string
  readonly port: number
}

const port = (name: string) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be a TCP port (0 picks a free one)`, validation: (p) => p >= 0 && p <= 65535 })
  )

/** HTTP_PORT, else PORT (what most platforms inject), else 8080; HTTP_HOST defaults to every interface. */
export const OpsServerConfig: Config.Config<OpsServerConfig> = Config.all({
  host: Config.string("HTTP_HOST").pipe(Config.withDefault("0.0.0.0")),
  port: port("HTTP_PORT").pipe(Config.orElse(() => port("PORT")), Config.withDefault(8080))
})

export const OPS_PATHS = ["/healthz", "/readyz", "/metrics"] as const

// Probes and scrapes every few seconds would drown the request log.
const quiet = HttpMiddleware.withLoggerDisabled

/**
 * `/healthz` answers while the process can serve HTTP at all, so a broker outage never gets pods killed;
 * `/readyz` reports the registered checks (503 with the failing ones); `/metrics` is Prometheus text.
 */
export const OpsRoutes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/healthz", quiet(HttpServerResponse.json({ status: "ok" }))),
  HttpLayerRouter.route(
    "GET",
    "/readyz",
    quiet(
      Effect.flatMap(Readiness, (r) => r.report).pipe(
        Effect.flatMap((report) =>
          HttpServerResponse.json(
            {
              status: report.ready ? "ready" : "not ready",
              failing: report.checks.filter((c) => !c.ok).map((c) => c.name),
              checks: report.checks
            },
            { status: report.ready ? 200 : 503 }
          )
        )
      )
    )
  ),
  HttpLayerRouter.route(
    "GET",
    "/metrics",
    quiet(
      Effect.flatMap(Metrics, (m) => m.prometheus).pipe(
        Effect.map((text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })),
        Effect.catchTag("MetricsCollectError", (e) => Effect.succeed(HttpServerResponse.text(e.message, { status: 500 })))
      )
    )
  )
])

/** A Node HTTP server on OpsServerConfig's host and port. */
export const layerHttpServerFromEnv = Layer.unwrapEffect(
  Effect.map(OpsServerConfig, (config) => NodeHttpServer.layer(() => createServer(), { host: config.host, port: config.port }))
)

/**
 * Serves the ops routes plus `routes`, layers built with `HttpLayerRouter.add`/`addAll`, on one port:
 *
 *   layerOpsServer(HttpLayerRouter.add("POST", "/orders", placeOrder))
 *
 * Needs Readiness and Metrics; provides HttpServer (its `address` tells the port chosen for HTTP_PORT=0).
 * The app's routes (not the probes) are counted and timed by HttpRequestMetrics and traced by
 * HttpServerSpans (in place of the platform's tracer, which names spans without the route and
 * records every header).
 */
export const layerOpsServer = <E = never, R = never>(routes?: Layer.Layer<never, E, R>) =>
  HttpLayerRouter.serve(routes === undefined ? OpsRoutes : Layer.merge(OpsRoutes, Layer.provide(routes, Layer.merge(HttpRequestMetrics, HttpServerSpans)))).pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provideMerge(layerHttpServerFromEnv)
  )
