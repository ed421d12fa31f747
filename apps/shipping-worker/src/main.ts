// shipping-worker: Executes ScheduleShipment and RecallShipment (durable `shipping-worker`).
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { ShippingWorkerLive, orderApp } from "@conveyor/orders"
import { runMain } from "@conveyor/nats"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a second one (or 30 s) exits at once.
runMain(Layer.launch(orderApp("shipping-worker", ShippingWorkerLive)), { forceExitAfterMs: 30_000 })
