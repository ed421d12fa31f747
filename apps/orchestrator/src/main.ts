// orchestrator: Runs the order workflow: consumes every order event (durable `orchestrator`), advances instances in the `order-workflows` bucket with compare-and-set, emits commands, fires step timeouts from the `order-timers` bucket.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { OrchestratorLive, orderApp } from "@conveyor/orders"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"

NodeRuntime.runMain(Layer.launch(orderApp("orchestrator", OrchestratorLive)))
