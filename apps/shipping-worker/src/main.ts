// shipping-worker: Executes ScheduleShipment and RecallShipment (durable `shipping-worker`).
// Environment and ports: `--help`, or README.md next to this folder; what it runs: `orderApps` in libs/orders/src/app.ts.
import { runOrderApp } from "@conveyor/orders"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a later one (or 20 s) exits at once.
runOrderApp("shipping-worker")
