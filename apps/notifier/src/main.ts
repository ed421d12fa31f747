// notifier: Publish-subscribe: its own durable `notifier` on every order event; counts and logs (debug) one notification per event.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { NotifierLive, orderApp } from "@conveyor/orders"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"

NodeRuntime.runMain(Layer.launch(orderApp("notifier", NotifierLive)))
