// notifier: Publish-subscribe: its own durable `notifier` on every order event; counts and logs (debug) one notification per event.
// Environment and ports: see README.md next to this folder (NATS_*, HTTP_PORT for /healthz /readyz /metrics).
import { NotifierLive, orderApp } from "@conveyor/orders"
import { runMain } from "@conveyor/nats"
import { Layer } from "effect"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a second one (or 30 s) exits at once.
runMain(Layer.launch(orderApp("notifier", NotifierLive)), { forceExitAfterMs: 30_000 })
