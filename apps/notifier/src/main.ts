// notifier: Publish-subscribe: its own durable `notifier` on the order outcomes (OrderCompleted, OrderCancelled); counts and logs (debug) one customer notification per order.
// Environment and ports: `--help`, or README.md next to this folder; what it runs: `orderApps` in libs/orders/src/app.ts.
import { runOrderApp } from "@conveyor/orders"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a later one (or 20 s) exits at once.
runOrderApp("notifier")
