import { defineHandler } from "@conveyor/messaging"
import { NatsConnection, runJetStreamConsumer } from "@conveyor/nats"
import { openJsonBucket, plainJson, type JsonBucket } from "@conveyor/orchestration"
import {
  Buckets, type CapturePayment, Durables, eventSubject, OrderCommandMessage, PaymentCaptured, PaymentDeclined, PaymentRefunded, type RefundPayment
} from "@conveyor/domain"
import { Config, Data, Effect, Layer, Option, Schema } from "effect"
import { UnexpectedCommand } from "./inventory.js"
import { ConsumerConfig, consumerSpec, workerOptions, checkedWhenSent } from "./consumers.js"
import { modifyExpectingNew } from "./step-store.js"

const Cents = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/**
 * The ledger entry of one order, created by its first capture or refund and never duplicated:
 * `capturedCents` is written once, so "captured twice" cannot happen and is checkable.
 */
export const LedgerEntry = Schema.Struct({
  status: Schema.Literal("captured", "declined", "refunded"),
  paymentId: Schema.optional(Schema.String),
  capturedCents: Cents,
  refundedCents: Cents,
  reason: Schema.optional(Schema.String)
})
export type LedgerEntry = typeof LedgerEntry.Type

export const ledgerKey = (orderId: string): string => `order.${orderId}`

export interface PaymentRules {
  /** Probability (0..1) that a capture fails transiently before touching the ledger. */
  readonly failureRate: number
  /** Captures above this amount are declined. */
  readonly declineAboveCents: Option.Option<number>
  /** Customers whose id starts with this are declined. */
  readonly declineCustomerPrefix: string
}

/** Environment: `PAYMENTS_FAILURE_RATE` (default 0), `PAYMENTS_DECLINE_ABOVE_CENTS` (unset: no limit), `PAYMENTS_DECLINE_CUSTOMER_PREFIX` (default `decline-`). */
export const PaymentRulesConfig: Config.Config<PaymentRules> = Config.all({
  failureRate: Config.number("PAYMENTS_FAILURE_RATE").pipe(
    Config.withDefault(0),
    Config.validate({ message: "PAYMENTS_FAILURE_RATE must be between 0 and 1", validation: (r) => r >= 0 && r < 1 })
  ),
  declineAboveCents: Config.option(Config.integer("PAYMENTS_DECLINE_ABOVE_CENTS")),
  declineCustomerPrefix: Config.string("PAYMENTS_DECLINE_CUSTOMER_PREFIX").pipe(Config.withDefault("decline-"))
})

/** Pure: why a capture is declined, if it is. */
export const declineReason = (rules: PaymentRules, command: CapturePayment): string | undefined => {
  if (rules.declineCustomerPrefix !== "" && command.customerId.startsWith(rules.declineCustomerPrefix)) return "card declined by issuer"
  if (Option.isSome(rules.declineAboveCents) && command.amountCents > rules.declineAboveCents.value) {
    return `amount above the limit of ${rules.declineAboveCents.value} cents`
  }
  return undefined
}

/** Pure: the ledger after a capture request; an existing entry is never changed by a capture. */
export const capture = (rules: PaymentRules, entry: LedgerEntry | undefined, command: CapturePayment): { next?: LedgerEntry; result: LedgerEntry } => {
  if (entry !== undefined) return { result: entry }
  const reason = declineReason(rules, command)
  const next: LedgerEntry = reason === undefined
    ? { status: "captured", paymentId: `pay-${command.orderId}`, capturedCents: command.amountCents, refundedCents: 0 }
    : { status: "declined", capturedCents: 0, refundedCents: 0, reason }
  return { next, result: next }
}

/** Pure: refund what was captured; with nothing captured, record a tombstone so a late capture cannot charge. */
export const refund = (entry: LedgerEntry | undefined): { next?: LedgerEntry; result: LedgerEntry } => {
  if (entry === undefined) {
    const next: LedgerEntry = { status: "refunded", capturedCents: 0, refundedCents: 0, reason: "refunded before any capture" }
    return { next, result: next }
  }
  if (entry.status !== "captured") return { result: entry }
  const next: LedgerEntry = { ...entry, status: "refunded", refundedCents: entry.capturedCents }
  return { next, result: next }
}

/** The payment provider did not answer; retried with backoff. */
export class PaymentProviderUnavailable extends Data.TaggedError("PaymentProviderUnavailable")<{ readonly orderId: string }> {
  override get message() {
    return `payment provider unavailable for order ${this.orderId} (injected fault)`
  }
}

export interface Payments {
  readonly ledger: JsonBucket<LedgerEntry>
  readonly rules: PaymentRules
  readonly random?: () => number
}

export const paymentsHandler = (payments: Payments) => {
  const random = payments.random ?? Math.random
  const answerCapture = (command: CapturePayment, entry: LedgerEntry) =>
    entry.status === "captured"
      ? { schema: PaymentCaptured, value: PaymentCaptured.make({ orderId: command.orderId, paymentId: entry.paymentId!, amountCents: entry.capturedCents }, checkedWhenSent) }
      : { schema: PaymentDeclined, value: PaymentDeclined.make({ orderId: command.orderId, reason: entry.reason ?? "payment was refunded" }, checkedWhenSent) }
  const answerRefund = (command: RefundPayment, entry: LedgerEntry) =>
    PaymentRefunded.make({
      orderId: command.orderId, amountCents: entry.refundedCents, ...(entry.paymentId === undefined ? {} : { paymentId: entry.paymentId })
    }, checkedWhenSent)
  return defineHandler({
    schema: OrderCommandMessage,
    handle: (command, ctx) =>
      Effect.gen(function* () {
        if (command.type === "CapturePayment") {
          if (random() < payments.rules.failureRate) return yield* new PaymentProviderUnavailable({ orderId: command.orderId })
          const entry = yield* modifyExpectingNew(payments.ledger, ledgerKey(command.orderId), (e) => capture(payments.rules, e, command))
          const answer = answerCapture(command, entry)
          return [answer.schema === PaymentCaptured
            ? yield* ctx.message(PaymentCaptured, eventSubject("PaymentCaptured"), answer.value as PaymentCaptured, "captured")
            : yield* ctx.message(PaymentDeclined, eventSubject("PaymentDeclined"), answer.value as PaymentDeclined, "declined")]
        }
        if (command.type === "RefundPayment") {
          const entry = yield* payments.ledger.modify(ledgerKey(command.orderId), refund)
          return [yield* ctx.message(PaymentRefunded, eventSubject("PaymentRefunded"), answerRefund(command, entry), "refunded")]
        }
        return yield* new UnexpectedCommand({ worker: "payments-worker", type: command.type })
      }),
    errors: {
      PaymentProviderUnavailable: "retry", KvUnavailable: "retry", CorruptEntry: "dead-letter", EncodeError: "dead-letter", UnexpectedCommand: "dead-letter"
    }
  })
}

export const openPayments = (rules: PaymentRules) =>
  Effect.flatMap(NatsConnection, (client) => openJsonBucket(client, Buckets.paymentsLedger, LedgerEntry, { encode: plainJson })).pipe(
    Effect.map((ledger): Payments => ({ ledger, rules }))
  )

/** The payments worker: CapturePayment and RefundPayment, once per order, with the configured faults. */
export const PaymentsWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* ConsumerConfig
    const payments = yield* openPayments(yield* PaymentRulesConfig)
    yield* runJetStreamConsumer(paymentsHandler(payments), {
      consumer: consumerSpec(Durables.payments),
      retry: config.retry,
      concurrency: config.concurrency,
      handlerTimeoutMs: config.handlerTimeoutMs,
      ...(yield* workerOptions(Durables.payments))
    })
  })
)
