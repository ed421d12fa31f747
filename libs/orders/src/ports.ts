import type { AppName } from "@conveyor/domain"

// No runtime imports: `npm run dev` (tools/dev.ts) reads these before starting any app, and
// loading the whole library for a table cost it about 1.5 s of CPU.

export type OrderAppName = Exclude<AppName, "ctl" | "console">

/**
 * Each app's own HTTP port when neither HTTP_PORT nor PORT is set, so every app can run on one
 * machine at once (`npm run dev`). Containers set HTTP_PORT=8080 themselves.
 */
export const defaultHttpPorts: Readonly<Record<OrderAppName, number>> = {
  gateway: 8080,
  orchestrator: 8081,
  "inventory-worker": 8082,
  "payments-worker": 8083,
  "shipping-worker": 8084,
  notifier: 8085
}
