// payments-worker: Executes CapturePayment / RefundPayment (durable `payments-worker`), once per order, recording the `payments-ledger` bucket; injects faults for the demo.
// Environment and ports: `--help`, or README.md next to this folder; what it runs: `orderApps` in libs/orders/src/app.ts.
import { runOrderApp } from "@conveyor/orders"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a later one (or 20 s) exits at once.
runOrderApp("payments-worker")
