// orchestrator: Runs the order workflow: consumes every order event (durable `orchestrator`), advances instances in the `order-workflows` bucket with compare-and-set, emits commands, fires step timeouts from the `order-timers` bucket.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { OrchestratorLive, orderApp } from "@conveyor/orders"
import { runMain } from "@conveyor/nats"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a second one (or 30 s) exits at once.
runMain(Layer.launch(orderApp("orchestrator", OrchestratorLive)), { forceExitAfterMs: 30_000 })
