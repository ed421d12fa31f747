// payments-worker: Executes CapturePayment / RefundPayment (durable `payments-worker`), once per order, recording the `payments-ledger` bucket; injects faults for the demo.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { PaymentsWorkerLive, orderApp } from "@conveyor/orders"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"

NodeRuntime.runMain(Layer.launch(orderApp("payments-worker", PaymentsWorkerLive)))
