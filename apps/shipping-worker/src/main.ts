// shipping-worker: Executes ScheduleShipment (durable `shipping-worker`).
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { ShippingWorkerLive, orderApp } from "@conveyor/orders"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"

NodeRuntime.runMain(Layer.launch(orderApp("shipping-worker", ShippingWorkerLive)))
