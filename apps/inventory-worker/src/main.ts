// inventory-worker: Executes ReserveStock / ReleaseStock (durable `inventory-worker`), once per order, keeping stock in the `inventory-stock` bucket.
// Environment and ports: `--help`, or README.md next to this folder.
import { InventoryWorkerLive, orderApp, runOrderApp } from "@conveyor/orders"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a later one (or 20 s) exits at once.
runOrderApp("inventory-worker", "Executes ReserveStock / ReleaseStock (durable `inventory-worker`), once per order, keeping stock in the `inventory-stock` bucket.", orderApp("inventory-worker", InventoryWorkerLive))
