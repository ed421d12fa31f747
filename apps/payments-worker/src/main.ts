// payments-worker: Executes CapturePayment / RefundPayment (durable `payments-worker`), once per order, recording the `payments-ledger` bucket; injects faults for the demo.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { PaymentsWorkerLive, orderApp } from "@conveyor/orders"
import { runMain } from "@conveyor/nats"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a second one (or 30 s) exits at once.
runMain(Layer.launch(orderApp("payments-worker", PaymentsWorkerLive)), { forceExitAfterMs: 30_000 })
