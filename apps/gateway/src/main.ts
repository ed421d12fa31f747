// gateway: HTTP ingress: POST /orders publishes OrderPlaced; GET /orders/:id shows state and history.
// Environment and ports: `--help`, or README.md next to this folder.
import { GatewayRoutesLive, orderApp, runOrderApp } from "@conveyor/orders"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a later one (or 20 s) exits at once.
runOrderApp("gateway", "HTTP ingress: POST /orders publishes OrderPlaced; GET /orders/:id shows state and history.", orderApp("gateway", Layer.empty, GatewayRoutesLive))
