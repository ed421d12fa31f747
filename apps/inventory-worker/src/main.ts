// inventory-worker: Executes ReserveStock / ReleaseStock (durable `inventory-worker`), once per order, keeping stock in the `inventory-stock` bucket.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { InventoryWorkerLive, orderApp } from "@conveyor/orders"
import { runMain } from "@conveyor/nats"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a second one (or 30 s) exits at once.
runMain(Layer.launch(orderApp("inventory-worker", InventoryWorkerLive)), { forceExitAfterMs: 30_000 })
