import { currentBaggage, currentParentSpanOption, injectTraceHeaders } from "@conveyor/telemetry"
import { Chunk, Deferred, Effect, Exit, Fiber, FiberRef, HashMap, Logger, Option, Queue, Schema, Scope, Stream } from "effect"
import { describe, expect, it } from "@effect/vitest"
import type { DeadLetterRecord } from "../src/dead-letter.js"
import type { Delivery } from "../src/delivery.js"
import { defineHandler, type MessageHandler } from "../src/handler.js"
import { makeRetryPolicy } from "../src/retry-policy.js"
import { type DeliverySource, startConsumer } from "../src/runner.js"
import { type IdempotencyStoreShape, makeMemoryIdempotencyStore, StoreUnavailable } from "../src/idempotency.js"
import { tapResult } from "../src/middleware.js"
import { fakeDelivery } from "./fake-delivery.js"

const Job = Schema.Struct({ n: Schema.Number, poison: Schema.optional(Schema.Boolean) })
class Poison extends Schema.TaggedError<Poison>()("Poison", {}) {}

/**
 * Deliveries from a queue, one at a time; the stream ends when the runner says stop, as a real
 * source must. (Stream.interruptWhen alone would not: it loses the race to a ready element.)
 */
const queueSource = (queue: Queue.Queue<Delivery>): DeliverySource => (stop) =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      let stopped = false
      yield* Effect.forkScoped(Effect.zipRight(stop, Effect.sync(() => (stopped = true))))
      const next = Effect.suspend(() => (stopped ? Effect.fail(Option.none()) : Queue.take(queue)))
      return Stream.repeatEffectOption(next).pipe(Stream.interruptWhen(stop))
    })
  )

const jobs = (count: number, start = 0) => Array.from({ length: count }, (_, i) => fakeDelivery({ n: start + i }, { messageId: `m-${start + i}`, streamSequence: start + i + 1 }))
const retry = makeRetryPolicy({ maxAttempts: 3, initialDelayMs: 10 })

/**
 * `count` jobs with plain acks handed over in one chunk, as a pull hands over what arrived
 * together, run through `handler` until every one is settled; the source ends once stopped.
 */
const settleInOneChunk = (count: number, handler: MessageHandler<{ readonly n: number }, any, never, never>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const all = Array.from({ length: count }, (_, i) => fakeDelivery({ n: i }, { messageId: `m-${i}`, streamSequence: i + 1, plainAcks: true }))
      const source: DeliverySource = (stop) => Stream.concat(Stream.fromChunk(Chunk.fromIterable(all)), Stream.drain(Stream.fromEffect(stop)))
      const settled = new Map<string, string>()
      const finished = yield* Deferred.make<void>()
      const running = yield* startConsumer(source, handler, {
        name: "t",
        concurrency: 4,
        retry,
        shutdownGraceMs: 1_000,
        middlewares: [tapResult((d, { settlement: settlement }) => {
          settled.set(d.messageId, settlement)
          if (settled.size === all.length) Deferred.unsafeDone(finished, Exit.void)
        })]
      })
      yield* Deferred.await(finished)
      yield* running.stop
      return { all, settled }
    })
  )

describe("startConsumer", () => {
  it("never has more than `concurrency` handlers in flight, and uses all of them under a backlog", async () => {
    const program = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Delivery>()
      const backlog = jobs(300)
      yield* Queue.offerAll(queue, backlog)
      let inFlight = 0
      let peak = 0
      let done = 0
      const finished = yield* Deferred.make<void>()
      const handler = defineHandler({
        schema: Job,
        handle: () =>
          Effect.gen(function* () {
            peak = Math.max(peak, ++inFlight)
            yield* Effect.sleep(`${Math.floor(Math.random() * 3)} millis`)
            inFlight--
            if (++done === backlog.length) yield* Deferred.succeed(finished, undefined)
          }),
        errors: {}
      })
      const running = yield* startConsumer(queueSource(queue), handler, { name: "t", concurrency: 4, retry, shutdownGraceMs: 1_000 })
      yield* Deferred.await(finished)
      const reported = yield* running.inFlight
      yield* running.stop
      return { peak, reported, acked: backlog.filter((d) => d.calls.some((c) => c.op === "ack")).length }
    })
    const r = await Effect.runPromise(Effect.scoped(program))
    expect(r.peak).toBe(4)
    expect(r.reported).toBeLessThanOrEqual(4)
    expect(r.acked).toBe(300)
  })

  it("settles quick handlers by plain calls alongside suspending ones: each acked once, logs annotated with their own message", async () => {
    const logged: Array<{ readonly n: unknown; readonly messageId: unknown }> = []
    const logger = Logger.make(({ annotations, message }) => {
      logged.push({ n: (message as ReadonlyArray<unknown>)[1], messageId: HashMap.get(annotations, "messageId").pipe(Option.getOrUndefined) })
    })
    const handler = defineHandler({
      schema: Job,
      // Every third one suspends and logs; the others return a completed Effect.
      handle: (job) => (job.n % 3 === 0 ? Effect.zipRight(Effect.sleep("1 millis"), Effect.log("slow", job.n)) : Effect.void),
      errors: {}
    })
    const { all, settled } = await Effect.runPromise(settleInOneChunk(200, handler).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
    expect([...settled.values()].every((s) => s === "acked")).toBe(true)
    expect(settled.size).toBe(200)
    for (const d of all) expect(d.calls).toEqual([{ op: "ack" }])
    expect(logged.map((l) => l.n).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 67 }, (_, i) => i * 3))
    for (const l of logged) expect(l.messageId).toBe(`m-${String(l.n)}`)
  })

  it("annotates a quick handler's own log lines with its message, though it never waits", async () => {
    const logged: Array<{ readonly n: unknown; readonly messageId: unknown }> = []
    const logger = Logger.make(({ annotations, message }) => {
      logged.push({ n: (message as ReadonlyArray<unknown>)[1], messageId: HashMap.get(annotations, "messageId").pipe(Option.getOrUndefined) })
    })
    // Every other one logs and returns at once; the rest neither log nor wait.
    const handler = defineHandler({ schema: Job, handle: (job) => (job.n % 2 === 0 ? Effect.log("quick", job.n) : Effect.void), errors: {} })
    const { settled } = await Effect.runPromise(settleInOneChunk(50, handler).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
    expect(settled.size).toBe(50)
    expect(logged).toHaveLength(25)
    for (const l of logged) expect(l.messageId).toBe(`m-${String(l.n)}`)
  })

  it("runs each delivery in the trace context its own headers carry, never the last delivery's", async () => {
    const traceOf = (i: number) => `${String(i).padStart(32, "a")}`
    const seen = new Map<number, { readonly traceId: string | undefined; readonly baggage: Record<string, string>; readonly sent: Record<string, string> }>()
    const handler = defineHandler({
      schema: Job,
      handle: (job) =>
        Effect.gen(function* () {
          if (job.n % 2 === 0) yield* Effect.sleep("1 millis")
          const parent = yield* currentParentSpanOption
          const sent = yield* injectTraceHeaders()
          seen.set(job.n, { traceId: Option.getOrUndefined(Option.map(parent, (p) => p.traceId)), baggage: yield* FiberRef.get(currentBaggage), sent })
        }),
      errors: {}
    })
    // Odd ones carry a trace (every third with baggage), even ones carry none.
    const all = Array.from({ length: 30 }, (_, n) =>
      fakeDelivery({ n }, {
        messageId: `m-${n}`, streamSequence: n + 1, plainAcks: true,
        headers: n % 2 === 0 ? {} : { traceparent: `00-${traceOf(n)}-b7ad6b7169203331-01`, ...(n % 3 === 0 ? { baggage: `tenant=t${n}` } : {}) }
      }))
    await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
      const source: DeliverySource = (stop) => Stream.concat(Stream.fromChunk(Chunk.fromIterable(all)), Stream.drain(Stream.fromEffect(stop)))
      const finished = yield* Deferred.make<void>()
      let settled = 0
      const running = yield* startConsumer(source, handler, {
        name: "t", concurrency: 2, retry, shutdownGraceMs: 1_000,
        middlewares: [tapResult(() => void (++settled === all.length && Deferred.unsafeDone(finished, Exit.void)))]
      })
      yield* Deferred.await(finished)
      yield* running.stop
    })))
    expect(seen.size).toBe(30)
    for (const [n, s] of seen) {
      expect(s.traceId).toBe(n % 2 === 0 ? undefined : traceOf(n))
      expect(s.sent["traceparent"]?.slice(3, 35)).toBe(n % 2 === 0 ? undefined : traceOf(n))
      expect(s.baggage).toEqual(n % 2 === 1 && n % 3 === 0 ? { tenant: `t${n}` } : {})
    }
  })

  it("lets timers run between quick handlers that compute for long without suspending", async () => {
    let ticks = 0
    const ticksAt: Array<number> = []
    const timer = setInterval(() => ticks++, 5)
    const handler = defineHandler({
      schema: Job,
      handle: () => {
        const until = performance.now() + 15
        while (performance.now() < until) {
          // computing, then returning a completed Effect
        }
        ticksAt.push(ticks)
        return Effect.void
      },
      errors: {}
    })
    const { all } = await Effect.runPromise(settleInOneChunk(16, handler)).finally(() => clearInterval(timer))
    // 16 × 15 ms of computing: without turns of the event loop in between, the timer would not
    // have fired once while they ran.
    expect(ticksAt[ticksAt.length - 1]! - ticksAt[0]!).toBeGreaterThanOrEqual(3)
    for (const d of all) expect(d.calls).toEqual([{ op: "ack" }])
  })

  it("on stop, pulls nothing more and lets in-flight handlers finish and ack", async () => {
    const program = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Delivery>()
      const backlog = jobs(10)
      yield* Queue.offerAll(queue, backlog)
      const gate = yield* Deferred.make<void>()
      let started = 0
      const handler = defineHandler({ schema: Job, handle: () => Effect.zipRight(Effect.sync(() => started++), Deferred.await(gate)), errors: {} })
      const running = yield* startConsumer(queueSource(queue), handler, { name: "t", concurrency: 3, retry, shutdownGraceMs: 5_000 })
      while (started < 3) yield* Effect.sleep("5 millis")
      const stopping = yield* Effect.fork(running.stop)
      yield* Effect.sleep("50 millis")
      const stillStopping = stopping.unsafePoll() === null
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stopping)
      return { stillStopping, started, acked: backlog.filter((d) => d.calls.some((c) => c.op === "ack")).length, leftInQueue: yield* Queue.size(queue) }
    })
    const r = await Effect.runPromise(Effect.scoped(program))
    expect(r.stillStopping).toBe(true) // stop waited for the handlers
    expect(r.acked).toBe(r.started)
    expect(r.acked).toBeGreaterThanOrEqual(3)
    expect(r.acked).toBeLessThanOrEqual(5) // the three in flight, plus the hand-off slot and the one waiting for it
    expect(r.leftInQueue).toBeGreaterThanOrEqual(5)
  })

  it("interrupts handlers still running when the grace elapses, without settling them", async () => {
    const program = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Delivery>()
      const [d] = jobs(1)
      yield* Queue.offer(queue, d!)
      let interrupted = false
      let started = false
      const handler = defineHandler({
        schema: Job,
        handle: () => Effect.zipRight(Effect.sync(() => (started = true)), Effect.never).pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))),
        errors: {}
      })
      const running = yield* startConsumer(queueSource(queue), handler, { name: "t", concurrency: 2, retry, shutdownGraceMs: 100 })
      while (!started) yield* Effect.sleep("5 millis")
      yield* running.stop
      return { interrupted, calls: d!.calls }
    })
    const r = await Effect.runPromise(Effect.scoped(program))
    expect(r.interrupted).toBe(true)
    expect(r.calls).toEqual([]) // neither acked nor nak'ed: redelivered after its ack wait
  })

  it("still stops when the grace elapses with deliveries queued behind busy handlers", async () => {
    const program = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Delivery>()
      yield* Queue.offerAll(queue, jobs(5))
      let started = 0
      const handler = defineHandler({ schema: Job, handle: () => Effect.zipRight(Effect.sync(() => started++), Effect.never), errors: {} })
      const running = yield* startConsumer(queueSource(queue), handler, { name: "t", concurrency: 1, retry, shutdownGraceMs: 100 })
      while (started < 1) yield* Effect.sleep("5 millis")
      yield* Effect.sleep("20 millis") // the hand-off slot fills and the feed waits on it
      return yield* running.stop.pipe(Effect.timeout("10 seconds"), Effect.either)
    })
    const stopped = await Effect.runPromise(Effect.scoped(program))
    expect(stopped._tag).toBe("Right")
  })

  it("stops gracefully when its scope closes", async () => {
    const queue = Effect.runSync(Queue.unbounded<Delivery>())
    const [d] = jobs(1)
    const scope = Effect.runSync(Scope.make())
    const handler = defineHandler({ schema: Job, handle: () => Effect.sleep("100 millis"), errors: {} })
    await Effect.runPromise(Scope.extend(startConsumer(queueSource(queue), handler, { name: "t", concurrency: 1, retry, shutdownGraceMs: 5_000 }), scope))
    Effect.runSync(Queue.offer(queue, d!))
    await new Promise((r) => setTimeout(r, 30))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(d!.calls).toEqual([{ op: "ack" }])
  })

  it("keeps going after a poison message, and dead-letters a message past its attempts without running the handler", async () => {
    const program = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Delivery>()
      const poison = fakeDelivery({ n: 0, poison: true }, { messageId: "poison" })
      const zombie = fakeDelivery({ n: 1 }, { messageId: "zombie", deliveryCount: 4 })
      const malformed = fakeDelivery(new TextEncoder().encode("{"), { messageId: "malformed" })
      const fine = jobs(5, 10)
      yield* Queue.offerAll(queue, [poison, zombie, malformed, ...fine])
      const handled: Array<number> = []
      const letters: Array<DeadLetterRecord> = []
      const handler = defineHandler({
        schema: Job,
        handle: (job) => (job.poison === true ? Effect.fail(new Poison()) : Effect.sync(() => void handled.push(job.n))),
        errors: { Poison: "dead-letter" }
      })
      const running = yield* startConsumer(queueSource(queue), handler, {
        name: "t",
        concurrency: 2,
        retry,
        shutdownGraceMs: 1_000,
        deadLetters: { send: (r) => Effect.sync(() => void letters.push(r)) }
      })
      while (handled.length < 5 || letters.length < 3) yield* Effect.sleep("5 millis")
      yield* running.stop
      return { handled, letters, poison, zombie, malformed }
    })
    const r = await Effect.runPromise(Effect.scoped(program))
    expect(r.handled.sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14])
    expect(r.handled).not.toContain(1)
    const byId = new Map(r.letters.map((l) => [l.delivery.messageId, l]))
    expect(byId.get("poison")).toMatchObject({ reason: "permanent", error: { tag: "Poison" } })
    expect(byId.get("zombie")).toMatchObject({ reason: "attempts-exhausted", error: { tag: "AttemptsExhausted" } })
    expect(byId.get("malformed")).toMatchObject({ reason: "permanent", error: { tag: "DecodeFailure" } })
    for (const d of [r.poison, r.zombie, r.malformed]) expect(d.calls.map((c) => c.op)).toEqual(["term"])
  })

  it("does not count deliveries it deferred (idempotency store down) against the message's attempts", async () => {
    const program = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Delivery>()
      let storeUp = false
      const runs: Array<number> = []
      const memory = makeMemoryIdempotencyStore()
      const downWhileNotUp: IdempotencyStoreShape = {
        ...memory,
        claim: (key, leaseMs) => (storeUp ? memory.claim(key, leaseMs) : Effect.fail(new StoreUnavailable({ reason: "down" })))
      }
      const handler = defineHandler({ schema: Job, handle: (job) => Effect.sync(() => void runs.push(job.n)), errors: {} })
      const letters: Array<DeadLetterRecord> = []
      const running = yield* startConsumer(queueSource(queue), handler, {
        name: "t",
        concurrency: 1,
        retry, // three attempts
        shutdownGraceMs: 1_000,
        idempotency: { store: downWhileNotUp, leaseMs: 1_000, unavailableDelayMs: 5, keyPrefix: "t." },
        deadLetters: { send: (r) => Effect.sync(() => void letters.push(r)) }
      })
      // The broker redelivers one message five times while the store is down, then once more.
      const deliveries = [1, 2, 3, 4, 5, 6].map((n) => fakeDelivery({ n: 7 }, { messageId: "m-7", streamSequence: 7, deliveryCount: n }))
      for (const d of deliveries.slice(0, 5)) {
        yield* Queue.offer(queue, d)
        while (d.calls.length === 0) yield* Effect.sleep("2 millis")
      }
      storeUp = true
      yield* Queue.offer(queue, deliveries[5]!)
      while (deliveries[5]!.calls.length === 0) yield* Effect.sleep("2 millis")
      yield* running.stop
      return { runs, letters, calls: deliveries.map((d) => d.calls.map((c) => c.op)) }
    })
    const r = await Effect.runPromise(Effect.scoped(program))
    expect(r.calls).toEqual([["nak"], ["nak"], ["nak"], ["nak"], ["nak"], ["ack"]])
    expect(r.runs).toEqual([7])
    expect(r.letters).toEqual([])
  })

  it("reports a source failure on `done` after the in-flight handlers finished", async () => {
    const program = Effect.gen(function* () {
      const [d] = jobs(1)
      let finished = false
      const handler = defineHandler({ schema: Job, handle: () => Effect.sleep("50 millis").pipe(Effect.ensuring(Effect.sync(() => (finished = true)))), errors: {} })
      const source: DeliverySource<string> = () => Stream.concat(Stream.make(d!), Stream.fail("connection lost"))
      const running = yield* startConsumer(source, handler, { name: "t", concurrency: 2, retry, shutdownGraceMs: 1_000 })
      const exit = yield* Effect.exit(running.done)
      return { exit, finished, calls: d!.calls }
    })
    const r = await Effect.runPromise(Effect.scoped(program))
    expect(Exit.isFailure(r.exit)).toBe(true)
    expect(r.finished).toBe(true)
    expect(r.calls).toEqual([{ op: "ack" }])
  })
})
