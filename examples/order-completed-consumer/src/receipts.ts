import { defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { consumer, ensureTopology, NatsConnection, openKvIdempotencyStore, runJetStreamConsumer } from "@conveyor/nats"
import { defineTopology } from "@conveyor/topology"
import { Context, Effect, Schema } from "effect"

export const OrderCompleted = Schema.Struct({ orderId: Schema.String, paymentId: Schema.String }) // what a receipt needs of the event
export class MailerDown extends Schema.TaggedError<MailerDown>()("MailerDown", {}) {} // retryable
export class NoSuchCustomer extends Schema.TaggedError<NoSuchCustomer>()("NoSuchCustomer", {}) {} // permanent
export class Mailer extends Context.Tag("Mailer")<Mailer, (order: typeof OrderCompleted.Type) => Effect.Effect<void, MailerDown | NoSuchCustomer>>() {}

export const sendReceipt = defineHandler({
  schema: OrderCompleted, // a payload that does not decode is dead-lettered at once
  handle: (order) => Effect.flatMap(Mailer, (send) => send(order)),
  errors: { MailerDown: "retry", NoSuchCustomer: "dead-letter" } // a missing tag does not compile
})

const receiptsConsumer = consumer({ stream: "ORDER_EVENTS", durable: "receipts", filterSubjects: ["orders.events.order-completed"] })

export const receipts = Effect.gen(function* () {
  yield* ensureTopology(defineTopology({ consumers: [receiptsConsumer], buckets: [{ name: "idempotency-receipts" }] }))
  const idempotency = yield* openKvIdempotencyStore(yield* NatsConnection, "idempotency-receipts")
  const running = yield* runJetStreamConsumer(sendReceipt, {
    consumer: receiptsConsumer,
    retry: makeRetryPolicy({ maxAttempts: 5, initialDelayMs: 1_000 }), // nak'ed with growing delays, then dead-lettered
    idempotency // a redelivery of a handled message is acked without running the handler
  })
  return yield* running.done // until SIGTERM: in-flight handlers finish, then the connection drains
}).pipe(Effect.scoped)
