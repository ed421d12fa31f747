// gateway: HTTP ingress: POST /orders publishes OrderPlaced; GET /orders/:id shows state and history.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics, the order API).
import { GatewayRoutesLive, orderApp } from "@conveyor/orders"
import { runMain } from "@conveyor/nats"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a second one (or 30 s) exits at once.
runMain(Layer.launch(orderApp("gateway", Layer.empty, GatewayRoutesLive)), { forceExitAfterMs: 30_000 })
