import { Buckets, Durables, eventSubject, orderTopology, orderWorkflow, StreamNames, summarizeOrder } from "@conveyor/domain"
import { Publisher } from "@conveyor/messaging"
import { NatsConnection } from "@conveyor/nats"
import { type JsonBucket, makeJsonBucket, openJsonBucket } from "@conveyor/orchestration"
import { Gateway, holdsOf, LedgerEntry, Notifications, Reservation, reservationKey, Settlements, Shipment, shipmentKey, SkuStock, skuKey } from "@conveyor/orders"
import { instanceSchema } from "@conveyor/workflow"
import { eventually as waitFor } from "@conveyor/testing"
import { Effect } from "effect"
import type { MidRun } from "./cluster.js"
import { type DemoOptions } from "./options.js"
import { demoOrder, limitedSku, type DemoOrder, SKUS, skuName, STOCK } from "./orders.js"
import { makeProgress } from "./progress.js"
import { type DemoReport, percentile } from "./report.js"

const utf8 = new TextEncoder()

const post = async (base: string, order: DemoOrder) => {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${base}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": order.idempotencyKey },
      body: JSON.stringify(order.body)
    }).catch((e: unknown) => e as Error)
    // A 503 (broker busy, or a cluster electing a new leader) is retried with the same key, which
    // is exactly what the key is for.
    if (!(response instanceof Error) && response.status === 202) return (await response.json()) as { orderId: string; duplicate: boolean; traceId?: string }
    if (attempt >= 12) throw new Error(`POST /orders for ${order.orderId} failed: ${response instanceof Error ? response.message : `${response.status} ${await response.text()}`}`)
    await new Promise((r) => setTimeout(r, Math.min(200 * attempt, 2_000)))
  }
}

/** Messages that must end in the dead-letter stream, and how many dead letters each makes. */
const poison = (run: string) => [
  // A durable on ORDER_EVENTS dead-letters an undecodable event on a subject it takes: the
  // orchestrator the events its workflow consumes, the notifier the outcomes.
  { subject: eventSubject("OrderPlaced"), payload: "{not json", copies: 1 },
  { subject: eventSubject("OrderPlaced"), payload: JSON.stringify({ type: "OrderPlaced", version: 99, orderId: `${run}-v99` }), copies: 1 },
  { subject: eventSubject("OrderCompleted"), payload: "{not json", copies: 1 },
  { subject: eventSubject("OrderCompleted"), payload: JSON.stringify({ type: "OrderCompleted", version: 99, orderId: `${run}-v99` }), copies: 1 },
  // Decodes fine (the notifier acks it) but no such order exists: an illegal transition for the orchestrator.
  { subject: eventSubject("StockReserved"), payload: JSON.stringify({ type: "StockReserved", version: 1, orderId: `${run}-ghost` }), copies: 1 },
  { subject: "orders.commands.payments.capture", payload: JSON.stringify({ type: "CapturePayment", version: 1 }), copies: 1 }
]

/** True once `check` holds, false when `timeoutMs` passed first: the demo reports what it finds either way. */
const eventually = (check: () => Promise<boolean>, timeoutMs: number) =>
  Effect.promise(() => waitFor(check, timeoutMs).then(() => true, () => false))

/** `midRun` runs once a third of the orders finished (the cluster's node kill); the run waits for it before reconciling. */
export const runDemo = (base: string, options: DemoOptions, log: (line: string) => void, midRun?: (run: MidRun) => Promise<void>) =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    const publisher = yield* Publisher
    const gateway = yield* Gateway
    const notifications = yield* Notifications
    const settlements = yield* Settlements
    const run = `d${Date.now().toString(36)}`
    const orders = Array.from({ length: options.orders }, (_, i) => demoOrder(run, i))
    const byId = new Map(orders.map((o) => [o.orderId, o]))
    // Outcome notifications for this run's orders only: the notifier may serve other runs on a shared server.
    const notified = new Map<string, number>()
    const stopCounting = notifications.onOutcome((orderId) => {
      if (byId.has(orderId)) notified.set(orderId, (notified.get(orderId) ?? 0) + 1)
    })
    const deadLettersBefore = (yield* Effect.promise(() => client.jsm.streams.info(StreamNames.deadLetters))).state.messages

    let midRunDone: Promise<void> | undefined
    let midRunFailed: string | undefined
    // Finish times, from the workflow's own outcome events (a plain subscription: watching, not consuming).
    const postedAt = new Map<string, number>()
    const finishedAt = new Map<string, number>()
    const waiters = new Map<string, () => void>()
    const deadline = Date.now() + options.timeoutMs
    /** Resolves when the order's outcome event is seen, or at the run's deadline. */
    const finished = (orderId: string) =>
      new Promise<void>((resolve) => {
        if (finishedAt.has(orderId)) return resolve()
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        waiters.set(orderId, () => {
          clearTimeout(timer)
          waiters.delete(orderId)
          resolve()
        })
      })
    const subscriptions = [eventSubject("OrderCompleted"), eventSubject("OrderCancelled")].map((subject) =>
      client.nc.subscribe(subject, {
        callback: (_err, msg) => {
          try {
            const { orderId } = msg.json<{ orderId: string }>()
            if (byId.has(orderId) && !finishedAt.has(orderId)) {
              finishedAt.set(orderId, Date.now())
              waiters.get(orderId)?.()
              if (midRun !== undefined && midRunDone === undefined && finishedAt.size >= orders.length / 3) {
                progress.end()
                midRunDone = midRun({ client, finished: () => finishedAt.size, orders: orders.length, log }).catch((e: unknown) => {
                  midRunFailed = e instanceof Error ? e.message : String(e)
                })
              }
            }
          } catch {
            // not ours to judge; the consumers dead-letter it
          }
        }
      }))
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriptions.forEach((s) => s.unsubscribe())))

    const progress = makeProgress(orders.length)
    const started = Date.now()
    const cpuAtStart = process.cpuUsage()
    let traceId: string | undefined
    let placed = 0
    let duplicatesSent = 0
    let duplicatesAnswered = 0
    const problems: Array<string> = []
    const ticker = setInterval(() => progress.update(finishedAt.size, placed, ""), 250)
    yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(ticker)))

    for (const p of poison(run)) {
      yield* publisher.publish({ subject: p.subject, payload: utf8.encode(p.payload), msgId: `${run}-poison-${p.subject}-${p.payload.length}` })
    }
    yield* Effect.forEach(orders, (order) =>
      Effect.promise(async () => {
        if (Date.now() > deadline) return
        postedAt.set(order.orderId, Date.now())
        const done = finished(order.orderId)
        const answer = await post(base, order)
        traceId ??= answer.traceId
        placed++
        // A first request retried after a failed attempt that had stored its key is answered as
        // a duplicate too: the gateway must count exactly the duplicates it answered.
        if (answer.duplicate) duplicatesAnswered++
        if (order.duplicate) {
          duplicatesSent++
          const again = await post(base, order)
          if (again.duplicate) duplicatesAnswered++
          else problems.push(`${order.orderId}: a repeated Idempotency-Key was not answered as a duplicate`)
        }
        // Closed loop: a slot places its next order when this one is finished, so latency is
        // the workflow's, not time spent queued behind thousands of orders placed at once.
        await done
      }), { concurrency: options.concurrency, discard: true })

    const allFinished = yield* eventually(async () => finishedAt.size === orders.length, Math.max(0, deadline - Date.now()))
    if (midRunDone !== undefined) yield* Effect.promise(() => midRunDone!)
    progress.update(finishedAt.size, placed, "")
    const seconds = (Math.max(...finishedAt.values(), Date.now() * (allFinished ? 0 : 1)) - started) / 1000
    // Every app runs in this process: its CPU over the run is what the orders cost (the driver's HTTP client included).
    const cpu = process.cpuUsage(cpuAtStart)
    const cpuMsPerOrder = (cpu.user + cpu.system) / 1000 / Math.max(1, finishedAt.size)
    clearInterval(ticker)
    progress.end()
    log("reconciling with the stores (workflow instances, payments ledger, stock, shipments, dead letters, notifier)")
    if (!allFinished) log(`timed out after ${options.timeoutMs} ms waiting for orders to finish; checking what is there`)

    // The stores are the truth: reconcile from them, not from what this process saw.
    const instances = yield* openJsonBucket(client, Buckets.workflows, instanceSchema(orderWorkflow))
    const stock = yield* openJsonBucket(client, Buckets.inventoryStock, SkuStock)
    const ledger = yield* openJsonBucket(client, Buckets.paymentsLedger, LedgerEntry)
    const shipments = yield* openJsonBucket(client, Buckets.shipments, Shipment)
    const summaries = yield* Effect.forEach(orders, (order) =>
      instances.get(order.orderId).pipe(Effect.map((i) => ({ order, instance: i?.value }))), { concurrency: 64 })
    let completed = 0, compensated = 0, rejected = 0, unfinished = 0, stepResends = 0
    const completedIds = new Set<string>()
    for (const { order, instance } of summaries) {
      if (instance === undefined || !instance.terminal) {
        unfinished++
        continue
      }
      const summary = summarizeOrder(instance)
      stepResends += summary.retries
      if (summary.status === "completed") {
        completed++
        completedIds.add(order.orderId)
      } else if (summary.compensations.length > 0) compensated++
      else rejected++
      const expected = order.kind === "normal" ? "completed" : "cancelled"
      if (summary.status !== expected) problems.push(`${order.orderId} (${order.kind}) ended ${summary.status}: ${summary.reason ?? ""}`)
    }
    if (unfinished > 0) problems.push(`${unfinished} orders not in a terminal state`)
    if (midRunFailed !== undefined) problems.push(`the mid-run node kill failed: ${midRunFailed}`)

    // Payments: captured once for every completed order, nothing kept for a cancelled one.
    yield* Effect.forEach(orders, (order) =>
      ledger.get(`order.${order.orderId}`).pipe(Effect.map((entry) => {
        const total = order.body.items.reduce((s, i) => s + i.quantity * i.unitPriceCents, 0)
        const e = entry?.value
        if (completedIds.has(order.orderId)) {
          if (e?.status !== "captured" || e.capturedCents !== total) problems.push(`${order.orderId}: completed but ledger says ${JSON.stringify(e)}`)
        } else if (e !== undefined && e.capturedCents !== e.refundedCents) {
          problems.push(`${order.orderId}: cancelled with ${e.capturedCents - e.refundedCents} cents still captured`)
        }
      })), { concurrency: 64, discard: true })

    // Shipments: one booked for every completed order, none live for a cancelled one (recalled or never booked).
    yield* Effect.forEach(orders, (order) =>
      shipments.get(shipmentKey(order.orderId)).pipe(Effect.map((entry) => {
        const e = entry?.value
        if (completedIds.has(order.orderId)) {
          if (e?.status !== "scheduled") problems.push(`${order.orderId}: completed but shipment is ${JSON.stringify(e)}`)
        } else if (e?.status === "scheduled") problems.push(`${order.orderId}: cancelled but shipment ${e.trackingId} is booked`)
      })), { concurrency: 64, discard: true })

    // No money kept or goods booked for an order that has no workflow instance (in this run or any other).
    const orphans = <A>(bucket: JsonBucket<A>, holds: (value: A) => boolean, what: string) =>
      Effect.gen(function* () {
        const keys = yield* Effect.promise(async () => {
          const all: Array<string> = []
          for await (const key of await bucket.kv.keys("order.>")) all.push(key)
          return all
        })
        yield* Effect.forEach(keys, (key) =>
          Effect.gen(function* () {
            const entry = yield* bucket.get(key)
            if (entry === undefined || !holds(entry.value)) return
            const orderId = key.slice("order.".length)
            if ((yield* instances.get(orderId)) === undefined) problems.push(`${orderId}: ${what} for an order that does not exist`)
          }), { concurrency: 64, discard: true })
      })
    yield* orphans(ledger, (e) => e.capturedCents !== e.refundedCents, "money captured")
    yield* orphans(shipments, (e) => e.status === "scheduled", "a shipment booked")

    // Stock: per SKU, free + held = the start, and only completed orders hold anything, exactly what
    // they ordered. A hold is in the SKU's value until the order's record confirms it, then in the record.
    const records = makeJsonBucket(client, stock.kv, stock.name, Reservation)
    const reservations = new Map<string, Reservation>()
    yield* Effect.forEach(orders, (order) =>
      Effect.map(records.get(reservationKey(order.orderId)), (record) => void (record !== undefined && reservations.set(order.orderId, record.value))),
      { concurrency: 64, discard: true })
    const skus = [...Array.from({ length: SKUS }, (_, k) => skuName(run, k)), limitedSku(run)]
    for (const sku of skus) {
      const entry = (yield* stock.get(skuKey(sku)))?.value
      if (entry === undefined) continue
      const holds = holdsOf(sku, entry, reservations)
      const held = [...holds.values()].reduce((a, b) => a + b, 0)
      if (entry.available + held !== STOCK) problems.push(`${sku}: ${entry.available} free + ${held} held != ${STOCK}`)
      for (const [orderId, quantity] of holds) {
        const line = byId.get(orderId)?.body.items.find((i) => i.sku === sku)
        if (!completedIds.has(orderId)) problems.push(`${sku}: cancelled or unknown order ${orderId} still holds ${quantity}`)
        else if (line?.quantity !== quantity) problems.push(`${sku}: ${orderId} holds ${quantity}, ordered ${line?.quantity}`)
      }
    }

    const deadLetteredExpected = poison(run).reduce((s, p) => s + p.copies, 0)
    let deadLettered = 0
    yield* eventually(async () => {
      deadLettered = (await client.jsm.streams.info(StreamNames.deadLetters)).state.messages - deadLettersBefore
      return deadLettered >= deadLetteredExpected
    }, 15_000)
    if (deadLettered !== deadLetteredExpected) problems.push(`${deadLettered} dead letters, expected ${deadLetteredExpected}`)
    if (gateway.duplicates() !== duplicatesAnswered) problems.push(`${gateway.duplicates()} requests de-duplicated, ${duplicatesAnswered} answered as duplicates (${duplicatesSent} repeated on purpose)`)
    // The notifier has its own durable: it must see one outcome per order, however far behind it is.
    const outcomes = () => [...notified.values()].reduce((a, b) => a + b, 0)
    // An outcome whose delivery was lost with a killed node (--cluster) comes back after the
    // notifier durable's ack wait: wait that long plus a margin.
    const notifierAckWaitMs = orderTopology.consumers.find((c) => c.durable === Durables.notifier)?.ackWaitMs ?? 30_000
    yield* eventually(async () => outcomes() >= orders.length - unfinished, notifierAckWaitMs + 15_000)
    stopCounting()
    const twice = [...notified].filter(([, n]) => n > 1).map(([id]) => id)
    if (outcomes() !== orders.length - unfinished) problems.push(`notifier saw ${outcomes()} outcomes for ${orders.length - unfinished} finished orders`)
    if (twice.length > 0) problems.push(`notifier notified ${twice.length} orders more than once (${twice.slice(0, 3).join(", ")})`)

    const latencies = orders.flatMap((o) => {
      const end = finishedAt.get(o.orderId)
      const start = postedAt.get(o.orderId)
      return end === undefined || start === undefined ? [] : [end - start]
    }).sort((a, b) => a - b)
    const report: DemoReport = {
      orders: orders.length, completed, compensated, rejected, unfinished,
      redeliveries: settlements.total("retried") + settlements.total("deferred"),
      stepResends,
      deadLettered, deadLetteredExpected,
      deduplicated: gateway.duplicates(),
      redeliveriesDeduplicated: settlements.total("duplicate"),
      seconds, cpuMsPerOrder, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), traceId,
      problems: problems.slice(0, 20).concat(problems.length > 20 ? [`... and ${problems.length - 20} more`] : [])
    }
    return report
  })
