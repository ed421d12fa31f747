// gateway: HTTP ingress: POST /orders publishes OrderPlaced; GET /orders/:id shows state and history.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics, the order API).
import { GatewayRoutesLive, orderApp } from "@conveyor/orders"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"

NodeRuntime.runMain(Layer.launch(orderApp("gateway", Layer.empty, GatewayRoutesLive)))
