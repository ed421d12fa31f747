// inventory-worker: Executes ReserveStock / ReleaseStock (durable `inventory-worker`), once per order, keeping stock in the `inventory-stock` bucket.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { InventoryWorkerLive, orderApp } from "@conveyor/orders"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"

NodeRuntime.runMain(Layer.launch(orderApp("inventory-worker", InventoryWorkerLive)))
