import { deadLetterTopology, defineTopology, withReplaySubjects } from "@conveyor/topology"
import { AllCommands, AllEvents, eventSubjectsOf, OrderOutcome, StreamNames, workerSubject } from "./messages.js"
import { OrderWorkflowEvent } from "./order-workflow.js"

const HOUR = 3_600_000
const DAY = 24 * HOUR

export const Durables = {
  orchestrator: "orchestrator",
  inventory: "inventory-worker",
  payments: "payments-worker",
  shipping: "shipping-worker",
  notifier: "notifier",
  /** On the timer bucket's stream, shared by every orchestrator replica: each timer fires once. */
  orchestratorTimers: "orchestrator-timers"
} as const

export const Buckets = {
  workflows: "order-workflows",
  timers: "order-timers",
  gatewayRequests: "gateway-requests",
  inventoryStock: "inventory-stock",
  paymentsLedger: "payments-ledger",
  shipments: "shipments"
} as const

/**
 * Each de-duplicating consumer keeps its idempotency records in a bucket of its own, readable and
 * writable only by its app: a record an app could write, it could forge (a "done" record makes the
 * owner ack a command as a duplicate and re-publish the planted outputs), and one it could read
 * would show it another app's outputs.
 */
export const idempotencyBucket = (durable: string): string => `idempotency-${durable}`

/**
 * The durables de-duplicated by message id, each with an idempotency bucket. The workers are not:
 * the compare-and-set on their own store (stock, ledger, shipments) is their idempotency record.
 */
export const IdempotentDurables = [Durables.notifier] as const

/**
 * Bounded in-flight work per durable. Each unacked message costs a slot; past this the server stops
 * delivering, which is the back-pressure we want rather than unbounded memory in a slow consumer.
 */
const MAX_ACK_PENDING = 256
const ACK_WAIT_MS = 30_000
/** Bounds a single payload (principle 5); an order with this many bytes is a bug, not a big order. */
const MAX_MSG_SIZE = 1_048_576

const consumer = (stream: string, durable: string, filterSubjects: ReadonlyArray<string>, description: string) => ({
  stream, durable, filterSubjects, description, ackWaitMs: ACK_WAIT_MS, maxAckPending: MAX_ACK_PENDING
  // maxDeliver stays unlimited: the runtime's retry policy dead-letters first, and a server-side cap
  // would silently strand a message with no dead letter.
})

// Each durable takes a replay subject of its own: replaying its dead letter reaches it alone.
export const orderTopology = withReplaySubjects(defineTopology({
  streams: [
    {
      name: StreamNames.events, subjects: [AllEvents], description: "Order events (facts), fanned out to every interested durable",
      storage: "file", maxAgeMs: 7 * DAY, duplicateWindowMs: 120_000, maxMsgSize: MAX_MSG_SIZE
    },
    {
      name: StreamNames.commands, subjects: [AllCommands], description: "Commands to workers, one durable per worker",
      storage: "file", maxAgeMs: 7 * DAY, duplicateWindowMs: 120_000, maxMsgSize: MAX_MSG_SIZE
    },
    // Declared once, in @conveyor/topology: an app that ensures deadLetterTopology() too declares the same stream.
    ...deadLetterTopology().streams
  ],
  consumers: [
    // The orchestrator takes exactly the events its workflow consumes (not the outcomes it emits).
    consumer(StreamNames.events, Durables.orchestrator, eventSubjectsOf(OrderWorkflowEvent), "Advances order workflows on the events they consume"),
    consumer(StreamNames.commands, Durables.inventory, [workerSubject("inventory")], "Reserves and releases stock"),
    consumer(StreamNames.commands, Durables.payments, [workerSubject("payments")], "Captures and refunds payments"),
    consumer(StreamNames.commands, Durables.shipping, [workerSubject("shipping")], "Schedules shipments"),
    // Publish-subscribe on the outcome: one notification per order.
    consumer(StreamNames.events, Durables.notifier, eventSubjectsOf(OrderOutcome), "Notifies the customer of each order's outcome"),
    {
      // Every pending timer is one unacked message (held by the server until due): no cap.
      ...consumer(`KV_${Buckets.timers}`, Durables.orchestratorTimers, [`$KV.${Buckets.timers}.>`], "Fires each workflow timer once across orchestrator replicas"),
      maxAckPending: -1
    }
  ],
  buckets: [
    // A few revisions let an operator see how an instance got where it is; CAS uses only the latest.
    { name: Buckets.workflows, description: "Order workflow instances (state, history, outbox)", history: 5, maxValueSize: 262_144 },
    { name: Buckets.timers, description: "Pending workflow timers, one entry per instance; survive restarts", history: 1 },
    ...IdempotentDurables.map((durable) => ({ name: idempotencyBucket(durable), description: `Handled message ids of ${durable}`, ttlMs: HOUR, history: 1 })),
    { name: Buckets.gatewayRequests, description: "Idempotency-Key -> order id", ttlMs: DAY, history: 1 },
    { name: Buckets.inventoryStock, description: "Stock levels and reservations per order", history: 1 },
    { name: Buckets.paymentsLedger, description: "Captures and refunds per order", history: 1 },
    { name: Buckets.shipments, description: "Shipments scheduled and recalled per order", history: 1 }
  ]
}))
