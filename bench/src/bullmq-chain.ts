import { Queue, Worker } from "bullmq"
import { Redis } from "ioredis"
import { serveOrderIngress } from "./order-ingress.js"

/** The steps of the order chain, one BullMQ queue and Worker each. */
const STEPS = ["reserve", "capture", "ship", "notify"] as const

export interface BullmqChain {
  /** `POST /orders` adds the order's first job. */
  readonly base: string
  /** Called with the order id when its last step has run. */
  readonly onFinished: (listener: (orderId: string) => void) => () => void
  /** Commands Redis has processed so far (INFO stats). */
  readonly commands: () => Promise<number>
  readonly close: () => Promise<void>
}

interface OrderJob {
  readonly orderId: string
  readonly customerId: string
  readonly items: ReadonlyArray<{ readonly sku: string; readonly quantity: number; readonly unitPriceCents: number }>
}

/**
 * What a TypeScript team would build instead of Conveyor for the same workflow: BullMQ on Redis,
 * one Worker per step (reserve → capture → ship → notify) in one process, each handler writing its
 * effect to Redis and adding the next step's job under a deterministic job id (so a re-run adds
 * nothing new), behind an HTTP endpoint like the gateway's.
 */
export const startBullmqChain = async (port: number, concurrency: number): Promise<BullmqChain> => {
  const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null }
  const prefix = `chain${Date.now().toString(36)}`
  const store = new Redis(connection)
  const queues = STEPS.map((step) => new Queue<OrderJob>(`${prefix}-${step}`, { connection }))
  // Completed jobs are kept an hour so their deterministic ids keep de-duplicating re-adds.
  const jobOptions = (orderId: string, step: string) => ({ jobId: `${orderId}.${step}`, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } })
  const listeners = new Set<(orderId: string) => void>()
  const effects: Record<(typeof STEPS)[number], (order: OrderJob) => Promise<unknown>> = {
    reserve: (o) => {
      const pipeline = store.multi()
      for (const item of o.items) pipeline.hincrby(`stock-held:${item.sku}`, o.orderId, item.quantity)
      return pipeline.exec()
    },
    capture: (o) => store.hsetnx("ledger", o.orderId, String(o.items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0))),
    ship: (o) => store.hsetnx("shipments", o.orderId, `trk-${o.orderId}`),
    notify: (o) => store.hsetnx("notified", o.orderId, "completed")
  }
  const workers = STEPS.map((step, i) =>
    new Worker<OrderJob>(`${prefix}-${step}`, async (job) => {
      await effects[step](job.data)
      const next = STEPS[i + 1]
      if (next !== undefined) await queues[i + 1]!.add(next, job.data, jobOptions(job.data.orderId, next))
      else for (const listener of listeners) listener(job.data.orderId)
    }, { connection, concurrency })
  )
  await Promise.all([...queues.map((q) => q.waitUntilReady()), ...workers.map((w) => w.waitUntilReady())])
  const ingress = await serveOrderIngress((_body, order) => queues[0]!.add(STEPS[0], order as OrderJob, jobOptions(order.orderId, STEPS[0])))
  return {
    base: ingress.base,
    onFinished: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    commands: async () => Number(/total_commands_processed:(\d+)/.exec(await store.info("stats"))?.[1] ?? 0),
    close: async () => {
      await ingress.close()
      await Promise.all(workers.map((w) => w.close()))
      await Promise.all(queues.map((q) => q.close()))
      store.disconnect()
    }
  }
}
