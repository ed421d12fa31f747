// orchestrator: Runs the order workflow: consumes the events it handles (durable `orchestrator`), advances instances in the `order-workflows` bucket with compare-and-set, sends commands to the workers and emits the order's outcome, fires step timeouts from the `order-timers` bucket.
// Environment and ports: `--help`, or README.md next to this folder; what it runs: `orderApps` in libs/orders/src/app.ts.
import { runOrderApp } from "@conveyor/orders"

// First SIGTERM: stop pulling, finish in-flight handlers, drain; a later one (or 20 s) exits at once.
runOrderApp("orchestrator")
