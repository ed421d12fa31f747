import { subjectMatches } from "@conveyor/topology"
import { Schema } from "effect"
import { AllCommands, AllEvents, deadLetterSubject, eventSubject, eventSubjectsOf, OrderOutcome, StreamNames } from "./messages.js"
import { Buckets, Durables, idempotencyBucket, orderTopology } from "./topology.js"

export const AppName = Schema.Literal(
  "gateway", "orchestrator", "inventory-worker", "payments-worker", "shipping-worker", "notifier", "ctl", "console"
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
  buckets: Schema.Array(Schema.Struct({
    bucket: Schema.String,
    access: Schema.Literal("read", "write"),
    /**
     * Watches the bucket (or lists its keys): that creates a consumer on the bucket's stream, and
     * a consumer's deliver subject is not checked against its creator's rights (nats-server issue
     * 8274), so only an app that must watch may create one.
     */
    watch: Schema.optional(Schema.Boolean)
  })),
  /**
   * The operator (`conveyor`): reads every declared stream, consumer and bucket, reads, replays and
   * removes dead letters. It changes no stream or consumer: the provisioning user does that.
   */
  operator: Schema.Boolean
})
export type AppAccess = typeof AppAccess.Type

/**
 * A consuming app dead-letters what its own durable cannot handle, and only that: the subject names
 * the stream and durable, so a letter on it was written by the durable's owner.
 */
const deadLetters = (stream: string, durable: string) => [deadLetterSubject(stream, durable)]
const idempotency = (durable: string) => ({ bucket: idempotencyBucket(durable), access: "write" }) as const

/**
 * The operator's rights (`conveyor` and the web console): read every declared stream, durable and
 * bucket; read, replay and remove dead letters; change no stream or durable.
 */
const operatorAccess: AppAccess = {
  // Replaying a dead letter republishes it to the failed durable's replay subject (or, for a
  // durable without one, to its original subject).
  publish: [AllEvents, AllCommands, ...orderTopology.consumers.flatMap((c) => (c.replaySubject === undefined ? [] : [c.replaySubject]))],
  consumes: [],
  buckets: Object.values(Buckets).map((bucket) => ({ bucket, access: "read" as const })),
  operator: true
}

export const appAccess: { readonly [A in AppName]: AppAccess } = {
  gateway: {
    publish: [eventSubject("OrderPlaced")],
    consumes: [],
    buckets: [{ bucket: Buckets.gatewayRequests, access: "write" }, { bucket: Buckets.workflows, access: "read" }],
    operator: false
  },
  orchestrator: {
    publish: [
      // The commands it sends, the outcomes it emits, its timers' firings.
      AllCommands, ...eventSubjectsOf(OrderOutcome), eventSubject("StepTimedOut"),
      ...deadLetters(StreamNames.events, Durables.orchestrator)
    ],
    consumes: [{ stream: StreamNames.events, durable: Durables.orchestrator }, { stream: `KV_${Buckets.timers}`, durable: Durables.orchestratorTimers }],
    // Instances advance by compare-and-set on their revision: no idempotency store. The step
    // timers are read through a durable of their own (fired once across replicas), not watched.
    buckets: [{ bucket: Buckets.workflows, access: "write" }, { bucket: Buckets.timers, access: "write" }],
    operator: false
  },
  "inventory-worker": {
    publish: [eventSubject("StockReserved"), eventSubject("StockRejected"), eventSubject("StockReleased"), ...deadLetters(StreamNames.commands, Durables.inventory)],
    consumes: [{ stream: StreamNames.commands, durable: Durables.inventory }],
    buckets: [{ bucket: Buckets.inventoryStock, access: "write" }],
    operator: false
  },
  "payments-worker": {
    publish: [eventSubject("PaymentCaptured"), eventSubject("PaymentDeclined"), eventSubject("PaymentRefunded"), ...deadLetters(StreamNames.commands, Durables.payments)],
    consumes: [{ stream: StreamNames.commands, durable: Durables.payments }],
    buckets: [{ bucket: Buckets.paymentsLedger, access: "write" }],
    operator: false
  },
  "shipping-worker": {
    publish: [eventSubject("ShipmentScheduled"), eventSubject("ShipmentRecalled"), ...deadLetters(StreamNames.commands, Durables.shipping)],
    consumes: [{ stream: StreamNames.commands, durable: Durables.shipping }],
    buckets: [{ bucket: Buckets.shipments, access: "write" }],
    operator: false
  },
  notifier: {
    publish: [...deadLetters(StreamNames.events, Durables.notifier)],
    consumes: [{ stream: StreamNames.events, durable: Durables.notifier }],
    buckets: [idempotency(Durables.notifier)],
    operator: false
  },
  ctl: operatorAccess,
  // Its own user with the same rights, so its credentials can be revoked apart from the CLI's.
  console: operatorAccess
}

export const appNames: ReadonlyArray<AppName> = AppName.literals

/** Who may publish a subject, for checks like "every command has exactly one producer". */
export const publishersOf = (subject: string): ReadonlyArray<AppName> =>
  appNames.filter((app) => appAccess[app].publish.some((pattern) => subjectMatches(pattern, subject)))

export { subjectMatches }

/**
 * The V8 flags every app runs with (deploy/: NODE_OPTIONS; the bench runs its apps with them too).
 * The old generation is capped below the pod's memory limit. The young generation's semispaces are
 * 64 MB instead of V8's 16: the workflow allocates about a megabyte per order, mostly short-lived
 * Effect and Schema objects, and with the default semispaces those of the orders in flight
 * outlived the frequent scavenges and were copied into the old generation: 18–21% of the CPU was
 * the garbage collector, and the same run did 20–40% more orders a second with 64 MB
 * (bench/README.md). It costs up to 128 MB more resident memory, which the pods' limit allows.
 */
export const youngGenerationOption = "--max-semi-space-size=64"
export const appNodeOptions: ReadonlyArray<string> = ["--max-old-space-size=192", youngGenerationOption]
