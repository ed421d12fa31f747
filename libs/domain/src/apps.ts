import { subjectMatches } from "@conveyor/topology"
import { Schema } from "effect"
import { AllCommands, AllDeadLetters, AllEvents, eventSubject, StreamNames } from "./subjects.js"
import { Buckets, Durables, orderTopology } from "./topology.js"

export const AppName = Schema.Literal(
  "gateway", "orchestrator", "inventory-worker", "payments-worker", "shipping-worker", "notifier", "ctl"
)
export type AppName = typeof AppName.Type

/**
 * What each app touches, as data: the input for generating least-privilege NATS permissions and
 * for checking that every durable and bucket in the topology has an owner.
 */
export const AppAccess = Schema.Struct({
  /** Subjects the app publishes to (wildcards allowed). */
  publish: Schema.Array(Schema.String),
  /** Durables it pulls from. */
  consumes: Schema.Array(Schema.Struct({ stream: Schema.String, durable: Schema.String })),
  buckets: Schema.Array(Schema.Struct({ bucket: Schema.String, access: Schema.Literal("read", "write") })),
  /** May create, update and inspect streams, consumers and buckets (provisioning, the operator CLI). */
  admin: Schema.Boolean
})
export type AppAccess = typeof AppAccess.Type

/** Every consuming app dead-letters what it cannot handle, keyed by the subject it came from. */
const deadLetters = [AllDeadLetters]
const idempotency = { bucket: Buckets.idempotency, access: "write" } as const

export const appAccess: { readonly [A in AppName]: AppAccess } = {
  gateway: {
    publish: [eventSubject("OrderPlaced")],
    consumes: [],
    buckets: [{ bucket: Buckets.gatewayRequests, access: "write" }, { bucket: Buckets.workflows, access: "read" }],
    admin: false
  },
  orchestrator: {
    publish: [
      AllCommands, eventSubject("OrderCompleted"), eventSubject("OrderCancelled"), eventSubject("StepTimedOut"), ...deadLetters
    ],
    consumes: [{ stream: StreamNames.events, durable: Durables.orchestrator }, { stream: `KV_${Buckets.timers}`, durable: Durables.orchestratorTimers }],
    buckets: [{ bucket: Buckets.workflows, access: "write" }, { bucket: Buckets.timers, access: "write" }, idempotency],
    admin: false
  },
  "inventory-worker": {
    publish: [eventSubject("StockReserved"), eventSubject("StockRejected"), eventSubject("StockReleased"), ...deadLetters],
    consumes: [{ stream: StreamNames.commands, durable: Durables.inventory }],
    buckets: [{ bucket: Buckets.inventoryStock, access: "write" }, idempotency],
    admin: false
  },
  "payments-worker": {
    publish: [eventSubject("PaymentCaptured"), eventSubject("PaymentDeclined"), eventSubject("PaymentRefunded"), ...deadLetters],
    consumes: [{ stream: StreamNames.commands, durable: Durables.payments }],
    buckets: [{ bucket: Buckets.paymentsLedger, access: "write" }, idempotency],
    admin: false
  },
  "shipping-worker": {
    publish: [eventSubject("ShipmentScheduled"), ...deadLetters],
    consumes: [{ stream: StreamNames.commands, durable: Durables.shipping }],
    buckets: [idempotency],
    admin: false
  },
  notifier: {
    publish: [...deadLetters],
    consumes: [{ stream: StreamNames.events, durable: Durables.notifier }],
    buckets: [idempotency],
    admin: false
  },
  ctl: {
    // Replaying a dead letter republishes it to the failed durable's replay subject (or, for a
    // durable without one, to its original subject).
    publish: [AllEvents, AllCommands, ...orderTopology.consumers.flatMap((c) => (c.replaySubject === undefined ? [] : [c.replaySubject]))],
    consumes: [],
    buckets: Object.values(Buckets).map((bucket) => ({ bucket, access: "read" as const })),
    admin: true
  }
}

export const appNames: ReadonlyArray<AppName> = AppName.literals

/** Who may publish a subject, for checks like "every command has exactly one producer". */
export const publishersOf = (subject: string): ReadonlyArray<AppName> =>
  appNames.filter((app) => appAccess[app].publish.some((pattern) => subjectMatches(pattern, subject)))

export { subjectMatches }
