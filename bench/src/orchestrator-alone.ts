// The orchestrator's CPU per order, without the other apps: the order workflow (OrchestratorLive, as
// deployed) in this process, and the three workers replaced by raw nats.js responders on their
// durables (parse the command, publish the success answer under the id a worker would derive, ack).
// A closed loop of `inFlight` orders publishes OrderPlaced straight to the events stream and waits
// for OrderCompleted. What the responders and the driver cost is small and does not change with the
// orchestrator, so differences in CPU per order between two runs are the orchestrator's.
//   node --cpu-prof --cpu-prof-dir=tmp/prof --conditions=@conveyor/source --import tsx bench/src/profile.ts orchestrator 2000
import { Durables, eventSubject, StreamNames } from "@conveyor/domain"
import { NatsConnection } from "@conveyor/nats"
import { OrchestratorLive, orderApp } from "@conveyor/orders"
import { ConfigProvider, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import type { RawClient } from "./harness.js"

export interface OrchestratorAlone {
  readonly orders: number
  readonly ordersPerSecond: number
  readonly cpuMsPerOrder: number
  /** Messages the orchestrator's connection sent (publishes, KV writes and reads, acks, naks, pulls) and received, per order. */
  readonly sentPerOrder: number
  readonly receivedPerOrder: number
}

const answers: Readonly<Record<string, (command: { orderId: string; amountCents?: number }) => object>> = {
  ReserveStock: (c) => ({ type: "StockReserved", version: 1, orderId: c.orderId }),
  CapturePayment: (c) => ({ type: "PaymentCaptured", version: 1, orderId: c.orderId, paymentId: `pay-${c.orderId}`, amountCents: c.amountCents }),
  ScheduleShipment: (c) => ({ type: "ShipmentScheduled", version: 1, orderId: c.orderId, trackingId: `trk-${c.orderId}` })
}

export const benchOrchestratorAlone = async (url: string, raw: RawClient, orders: number, inFlight = 64): Promise<OrchestratorAlone> => {
  const env = { NATS_URL: url, HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", OTEL_SDK_DISABLED: "true" }
  const provider = ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" })
  const layer = orderApp("orchestrator", OrchestratorLive).pipe(
    Layer.provide(Layer.setConfigProvider(provider)),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )
  const runtime = ManagedRuntime.make(layer as Layer.Layer<any, unknown, never>)
  const client = await runtime.runPromise(NatsConnection)
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  const iterators: Array<{ stop: () => void }> = []
  for (const durable of [Durables.inventory, Durables.payments, Durables.shipping]) {
    const messages = await (await raw.js.consumers.get(StreamNames.commands, durable)).consume({ max_messages: 64 })
    iterators.push(messages)
    void (async () => {
      for await (const m of messages) {
        const command = JSON.parse(decoder.decode(m.data)) as { type: string; orderId: string; amountCents?: number }
        const answer = answers[command.type]?.(command)
        if (answer === undefined) {
          m.ack()
          continue
        }
        // The id a worker derives from the command's (derivedMessageId): the orchestrator knows it was published.
        const id = `${m.headers?.get("Nats-Msg-Id") ?? m.seq}>0`
        raw.js.publish(eventSubject((answer as { type: "StockReserved" }).type), encoder.encode(JSON.stringify(answer)), { msgID: id }).then(
          () => m.ack(),
          () => m.nak(200)
        )
      }
    })()
  }
  const prefix = `o${Date.now().toString(36)}`
  let started = 0
  let finished = 0
  let done!: () => void
  const allDone = new Promise<void>((resolve) => (done = resolve))
  const place = () => {
    const i = started++
    const orderId = `${prefix}-${i}`
    const placed = {
      type: "OrderPlaced", version: 1, orderId, customerId: "bench", items: [{ sku: `sku-${i % 64}`, quantity: 1, unitPriceCents: 100 }],
      totalCents: 100, placedAt: new Date().toISOString()
    }
    void raw.js.publish(eventSubject("OrderPlaced"), encoder.encode(JSON.stringify(placed)), { msgID: `placed:${orderId}` })
  }
  const sub = raw.nc.subscribe(eventSubject("OrderCompleted"), {
    callback: () => {
      if (++finished === orders) done()
      else if (started < orders) place()
    }
  })
  await raw.nc.flush()
  const stats = client.nc.stats()
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < Math.min(inFlight, orders); i++) place()
  await allDone
  const seconds = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  const after = client.nc.stats()
  sub.unsubscribe()
  for (const it of iterators) it.stop()
  await runtime.dispose()
  return {
    orders,
    ordersPerSecond: orders / seconds,
    cpuMsPerOrder: (used.user + used.system) / 1000 / orders,
    sentPerOrder: (after.outMsgs - stats.outMsgs) / orders,
    receivedPerOrder: (after.inMsgs - stats.inMsgs) / orders
  }
}
