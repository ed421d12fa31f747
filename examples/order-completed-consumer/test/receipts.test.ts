// Runs the example service against a real nats-server: the order topology's event stream and the
// dead-letter stream exist (the platform's), the service ensures its own durable and bucket.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection as Client } from "@nats-io/transport-node"
import { deadLetterSubject, deadLetterTopology, ensureTopology, NatsConnectionFromEnv } from "@conveyor/nats"
import { eventually } from "@conveyor/testing"
import { startAppProcess } from "@conveyor/testing/app-process"
import { useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology, mergeTopologies } from "@conveyor/topology"
import { Effect, Exit, Fiber, Layer } from "effect"
import { Mailer, MailerDown, NoSuchCustomer, receipts } from "../src/receipts.js"

const server = useNatsServer()
const sent: Array<string> = []
const attempts = new Map<string, number>()
/** Records each receipt; `flaky-*` orders meet a mailer that is down once, `unknown-*` ones have no customer. */
const recordingMailer = Layer.succeed(Mailer, (order) =>
  Effect.suspend((): Effect.Effect<void, MailerDown | NoSuchCustomer> => {
    const attempt = (attempts.get(order.orderId) ?? 0) + 1
    attempts.set(order.orderId, attempt)
    if (order.orderId.startsWith("unknown-")) return Effect.fail(new NoSuchCustomer())
    if (order.orderId.startsWith("flaky-") && attempt === 1) return Effect.fail(new MailerDown())
    return Effect.sync(() => void sent.push(order.orderId))
  })
)

let client: Client
let service: Fiber.RuntimeFiber<void, unknown>
const utf8 = new TextEncoder()
const orderCompleted = (orderId: string) => utf8.encode(JSON.stringify({ type: "OrderCompleted", version: 1, orderId, paymentId: `pay-${orderId}`, trackingId: `trk-${orderId}` }))
const publish = (orderId: string, msgID = `completed:${orderId}`) => jetstream(client).publish("orders.events.order-completed", orderCompleted(orderId), { msgID })
const receiptsOf = (orderId: string) => sent.filter((id) => id === orderId).length

beforeAll(async () => {
  process.env.NATS_URL = server.url
  client = await connect({ servers: server.url })
  // The order topology's event stream (a short duplicate window, so the test can send a late duplicate) and DEAD_LETTERS.
  const platform = mergeTopologies(defineTopology({ streams: [{ name: "ORDER_EVENTS", subjects: ["orders.events.>"], duplicateWindowMs: 1_000 }] }), deadLetterTopology())
  await Effect.runPromise(ensureTopology(platform).pipe(Effect.provide(NatsConnectionFromEnv)))
  service = Effect.runFork(receipts.pipe(Effect.provide(Layer.mergeAll(NatsConnectionFromEnv, recordingMailer))))
})

afterAll(async () => {
  await client?.close()
})

describe("the order-completed consumer example", () => {
  it("sends one receipt per completed order, ignoring a late duplicate", async () => {
    await publish("order-1")
    await eventually(() => receiptsOf("order-1") === 1, 20_000, "the receipt of order-1")
    // Past the stream's duplicate window the same message id is stored again: the idempotency store drops it.
    await eventually(async () => (await publish("order-1")).duplicate === false, 20_000, "the duplicate stored past the window")
    const jsm = await jetstreamManager(client)
    const last = (await jsm.streams.info("ORDER_EVENTS")).state.last_seq
    await eventually(async () => (await jsm.consumers.info("ORDER_EVENTS", "receipts")).ack_floor.stream_seq >= last, 20_000, "the duplicate acked")
    expect(receiptsOf("order-1")).toBe(1)
    expect(attempts.get("order-1")).toBe(1)
  })

  it("retries a retryable failure with backoff until the receipt is sent", async () => {
    await publish("flaky-1")
    await eventually(() => receiptsOf("flaky-1") === 1, 20_000, "the receipt of flaky-1")
    expect(attempts.get("flaky-1")).toBe(2)
  })

  it("dead-letters a permanent failure at once", async () => {
    await publish("unknown-1")
    const jsm = await jetstreamManager(client)
    const letter = await eventually(
      () => jsm.streams.getMessage("DEAD_LETTERS", { last_by_subj: deadLetterSubject("ORDER_EVENTS", "receipts") }).then((m) => m ?? undefined, () => undefined),
      20_000,
      "the dead letter"
    )
    expect(letter.json<{ orderId: string }>().orderId).toBe("unknown-1")
    expect(attempts.get("unknown-1")).toBe(1)
    expect(receiptsOf("unknown-1")).toBe(0)
  })

  it("stops gracefully when interrupted (what SIGTERM does through runMain)", async () => {
    const exit = await Effect.runPromise(Fiber.interrupt(service))
    expect(Exit.isInterrupted(exit)).toBe(true)
  })
  it("runs as a process from src/main.ts and exits 0 on SIGTERM", async () => {
    // startAppProcess runs <root>/apps/<name>/src/main.ts: this project sits beside apps/.
    const main = await startAppProcess("../examples/order-completed-consumer", { NATS_URL: server.url })
    try {
      await publish("process-1")
      await eventually(() => main.output().includes("receipt sent for process-1"), 30_000, "the process's receipt")
    } finally {
      expect(await main.stop("SIGTERM")).toBe(0)
    }
  })
})

