import { Queue, Worker } from "bullmq"
import { Redis } from "ioredis"
import { serveOrderIngress } from "./order-ingress.js"

/** The steps of the order chain, one BullMQ queue and Worker each. */
export const STEPS = ["reserve", "capture", "ship", "notify"] as const

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

export const bullmqConnection = (port: number) => ({ host: "127.0.0.1", port, maxRetriesPerRequest: null })
/** The queue of step `index` of the chain named `prefix`. */
export const stepQueue = (prefix: string, index: number) => `${prefix}-${STEPS[index]}`
/** The job id of an order's step: deterministic, so a re-run adds nothing new. */
export const stepJobId = (orderId: string, step: string) => `${orderId}.${step}`
export const orderOfJob = (jobId: string) => jobId.slice(0, jobId.lastIndexOf("."))
// Completed jobs are kept an hour so their deterministic ids keep de-duplicating re-adds.
const jobOptions = (orderId: string, step: string) => ({ jobId: stepJobId(orderId, step), removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } })

const effects: Record<(typeof STEPS)[number], (store: Redis, order: OrderJob) => Promise<unknown>> = {
  reserve: (store, o) => {
    const pipeline = store.multi()
    for (const item of o.items) pipeline.hincrby(`stock-held:${item.sku}`, o.orderId, item.quantity)
    return pipeline.exec()
  },
  capture: (store, o) => store.hsetnx("ledger", o.orderId, String(o.items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0))),
  ship: (store, o) => store.hsetnx("shipments", o.orderId, `trk-${o.orderId}`),
  notify: (store, o) => store.hsetnx("notified", o.orderId, "completed")
}

/**
 * The Worker of step `index`: writes the step's effect to Redis, then adds the next step's job, or
 * after the last step calls `onLast`. One process may run several (the one-process chain) or
 * several processes one step each, competing for its jobs.
 */
export const startBullmqStep = async (
  port: number, prefix: string, index: number, concurrency: number, onLast: (orderId: string) => void = () => undefined
): Promise<{ readonly close: () => Promise<void> }> => {
  const connection = bullmqConnection(port)
  const store = new Redis(connection)
  const step = STEPS[index]!
  const next = STEPS[index + 1]
  const nextQueue = next === undefined ? undefined : new Queue<OrderJob>(stepQueue(prefix, index + 1), { connection })
  const worker = new Worker<OrderJob>(stepQueue(prefix, index), async (job) => {
    await effects[step](store, job.data)
    if (next !== undefined) await nextQueue!.add(next, job.data, jobOptions(job.data.orderId, next))
    else onLast(job.data.orderId)
  }, { connection, concurrency })
  await Promise.all([nextQueue?.waitUntilReady(), worker.waitUntilReady()])
  return {
    close: async () => {
      await worker.close()
      await nextQueue?.close()
      store.disconnect()
    }
  }
}

/** `POST /orders` adding the order's first job. */
export const serveBullmqIngress = async (port: number, prefix: string) => {
  const queue = new Queue<OrderJob>(stepQueue(prefix, 0), { connection: bullmqConnection(port) })
  await queue.waitUntilReady()
  const ingress = await serveOrderIngress((_body, order) => queue.add(STEPS[0], order as OrderJob, jobOptions(order.orderId, STEPS[0])))
  return {
    base: ingress.base,
    close: async () => {
      await ingress.close()
      await queue.close()
    }
  }
}

/** Commands Redis has processed so far (INFO stats), through `store`. */
export const redisCommands = (store: Redis) => async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await store.info("stats"))?.[1] ?? 0)

export const bullmqPrefix = () => `chain${Date.now().toString(36)}`

/**
 * What a TypeScript team would build instead of Conveyor for the same workflow: BullMQ on Redis,
 * one Worker per step (reserve → capture → ship → notify) in one process, each handler writing its
 * effect to Redis and adding the next step's job under a deterministic job id (so a re-run adds
 * nothing new), behind an HTTP endpoint like the gateway's.
 */
export const startBullmqChain = async (port: number, concurrency: number): Promise<BullmqChain> => {
  const prefix = bullmqPrefix()
  const store = new Redis(bullmqConnection(port))
  const listeners = new Set<(orderId: string) => void>()
  const steps = await Promise.all(STEPS.map((_, i) => startBullmqStep(port, prefix, i, concurrency, (orderId) => {
    for (const listener of listeners) listener(orderId)
  })))
  const ingress = await serveBullmqIngress(port, prefix)
  return {
    base: ingress.base,
    onFinished: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    commands: redisCommands(store),
    close: async () => {
      await ingress.close()
      await Promise.all(steps.map((s) => s.close()))
      store.disconnect()
    }
  }
}
