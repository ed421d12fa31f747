import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Cause, Config, ConfigError, Effect, Either, Exit, FiberRef, Layer, Option } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { HttpRequestMetrics } from "./internal/http-metrics.js"
import { HttpServerSpans } from "./internal/http-server-spans.js"
import { Metrics } from "./metrics.js"
import { Readiness } from "./readiness.js"

export interface OpsServerConfig {
  readonly host: string
  readonly port: number
}

const port = (name: string) =>
  Config.string(name).pipe(
    // mapOrFail right on the variable keeps its name in the error
    Config.mapOrFail((raw) => {
      const p = Number(raw.trim())
      return /^\d+$/.test(raw.trim()) && p <= 65535 ? Either.right(p) : Either.left(ConfigError.InvalidData([], "must be a TCP port, 0 to 65535 (0 picks a free one)"))
    })
  )

/**
 * HTTP_PORT, else PORT (what most platforms inject), else the app's default port (8080 unless
 * given); HTTP_HOST defaults to every interface. An invalid HTTP_PORT is reported as such, not
 * hidden behind the PORT fallback.
 */
export const opsServerConfig = (defaultPort = 8080): Config.Config<OpsServerConfig> =>
  Config.all({
    host: Config.string("HTTP_HOST").pipe(Config.withDefault("0.0.0.0")),
    port: Config.all([Config.option(port("HTTP_PORT")), Config.option(port("PORT"))]).pipe(
      Config.map(([http, fallback]) => Option.getOrElse(Option.orElse(http, () => fallback), () => defaultPort))
    )
  })

export const OpsServerConfig: Config.Config<OpsServerConfig> = opsServerConfig()

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

/**
 * A Node HTTP server that stops gracefully. Once the app's request handler is removed (its scope
 * closes first), a request still arriving on a kept-alive connection gets 503 with
 * `Connection: close` instead of hanging; on `close()`, responses in flight close their connection
 * when written and idle connections are closed, so `close()` ends with the last in-flight response.
 */
export const makeGracefulServer = (): Server => {
  const server = createServer()
  let stopping = false
  const inFlight = new Set<ServerResponse>()
  const own = (_req: IncomingMessage, res: ServerResponse) => {
    if (stopping) {
      res.writeHead(503, { connection: "close", "content-type": "application/json", "retry-after": "1" })
      res.end(JSON.stringify({ error: "shutting down" }))
      return
    }
    inFlight.add(res)
    res.once("close", () => inFlight.delete(res))
  }
  const stop = () => {
    stopping = true
    for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false
    server.closeIdleConnections()
  }
  server.on("request", own)
  // The app's handler going away is the start of the stop: from then on nobody else would answer.
  server.on("removeListener", (event) => {
    if (event === "request" && server.listeners("request").every((l) => l === own)) stop()
  })
  const close = server.close.bind(server)
  server.close = (callback?: (err?: Error) => void) => {
    close(callback)
    stop()
    return server
  }
  return server
}

/** A Node HTTP server on the host and port of `opsServerConfig(defaultPort)`. */
export const layerHttpServerFromEnv = (defaultPort?: number) =>
  Layer.unwrapEffect(
    Effect.map(opsServerConfig(defaultPort), (config) => NodeHttpServer.layer(makeGracefulServer, { host: config.host, port: config.port }))
  )

/**
 * One line per request at the level it deserves: a 5xx at error with its cause's first line, the
 * rest at debug (the platform's own logger puts failures at info, with the cause as the message).
 */
const logRequests = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(Effect.all([HttpServerRequest.HttpServerRequest, Effect.exit(app)]), ([request, exit]) => {
    const [response, cause] = Exit.isSuccess(exit) ? [exit.value, Option.none()] : HttpServerError.causeResponseStripped(exit.cause)
    const line = `${request.method} ${request.url} ${response.status}`
    const log = Effect.flatMap(FiberRef.get(HttpMiddleware.loggerDisabled), (quiet) =>
      quiet
        ? Effect.void
        : response.status >= 500
          ? Effect.logError(Option.match(cause, { onNone: () => line, onSome: (c) => `${line}: ${Cause.pretty(c).split("\n")[0]}` }))
          : Effect.logDebug(line)
    )
    return Effect.zipRight(log, exit)
  })

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
export const layerOpsServer = <E = never, R = never>(routes?: Layer.Layer<never, E, R>, defaultPort?: number) =>
  HttpLayerRouter.serve(routes === undefined ? OpsRoutes : Layer.merge(OpsRoutes, Layer.provide(routes, Layer.merge(HttpRequestMetrics, HttpServerSpans))), { disableLogger: true, middleware: logRequests }).pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provideMerge(layerHttpServerFromEnv(defaultPort))
  )
