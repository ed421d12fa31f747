import { Cause, Deferred, Effect, Fiber, FiberRef, HashMap, type Scope, Stream } from "effect"
import type { DeadLetterSink } from "./dead-letter.js"
import { exhaustedBeforeRun } from "./decide.js"
import type { Delivery } from "./delivery.js"
import { makeDeferralCounter } from "./deferrals.js"
import { makeHandoff } from "./handoff.js"
import { makeTimeSlice } from "./time-slice.js"
import type { TaggedFailure } from "./disposition.js"
import type { MessageHandler } from "./handler.js"
import { handlerStep } from "./handler-step.js"
import type { RetryPolicy } from "./retry-policy.js"
import { settle, type Settled, type Settlement } from "./settle.js"
import { failed, type Middleware, type Outcome, type Step } from "./step.js"
import { andThen, isDone, tapNow } from "./sync-first.js"

export interface RunnerOptions {
  /** Durable name, for logs and metrics. */
  readonly name: string
  /** Handlers running at once; deliveries beyond it wait in the source. */
  readonly concurrency: number
  readonly retry: RetryPolicy
  /** Middlewares, outermost first. */
  readonly middlewares?: ReadonlyArray<Middleware<any>>
  readonly deadLetters?: DeadLetterSink["Type"]
  /** After a stop, how long in-flight handlers may take before they are interrupted (redelivered later). */
  readonly shutdownGraceMs: number
  /** A handler still running after this long is interrupted and retried with backoff (`handlerStep`). */
  readonly handlerTimeoutMs?: number | undefined
  /** Called after each delivery is settled (metrics, tests). */
  readonly onSettled?: (delivery: Delivery, outcome: Outcome, settlement: Settlement) => void
  /**
   * Wrap each delivery's processing and settlement (tracing, metrics), outermost first. An Effect
   * is run once as the consumer starts and gives the interceptor to use (e.g. traced or not, by
   * whether a tracer is installed), instead of deciding that per message.
   */
  readonly interceptors?: ReadonlyArray<DeliveryInterceptor | Effect.Effect<DeliveryInterceptor>>
}

/**
 * Wraps the processing of one delivery from hand-out to settlement. Unlike a middleware it sees
 * what the broker was told (a failure may be retried or dead-lettered), so tracing and counting
 * hook in here. Calling `process` processes the delivery: it does at once what needs no waiting
 * and returns the rest, a completed Exit when nothing had to wait. An interceptor that must be in
 * place before any of it runs (a span) calls it inside its Effect (`Effect.suspend(process)`); one
 * that composes with sync-first.ts keeps a synchronous delivery synchronous.
 */
export type DeliveryInterceptor = <R>(delivery: Delivery, process: () => Effect.Effect<Settled, never, R>) => Effect.Effect<Settled, never, R>

export interface RunningConsumer {
  readonly name: string
  readonly inFlight: Effect.Effect<number>
  /** Stop pulling, let in-flight handlers finish within the grace, then return. */
  readonly stop: Effect.Effect<void>
  /** Completes when the consumer stops; fails if its source fails (e.g. connection lost). */
  readonly done: Effect.Effect<void, unknown>
}

/**
 * Where deliveries come from. The source must end its stream once `stop` completes, without
 * dropping what it already handed out: interrupting a pending pull is not enough with clients
 * whose iterators only end when told to.
 */
export type DeliverySource<E = never, R = never> = (stop: Effect.Effect<void>) => Stream.Stream<Delivery, E, R>

/** How long the workers handle synchronous deliveries without the event loop getting a turn. */
const syncSliceMs = 20

/** Composes middlewares around the handler step, outermost first. */
export const composeSteps = <R>(middlewares: ReadonlyArray<Middleware<any>>, inner: Step<R>): Step<any> =>
  middlewares.reduceRight<Step<any>>((next, middleware) => middleware(next), inner)

/**
 * Runs a handler over a source of deliveries with bounded concurrency until stopped or the scope
 * closes; closing the scope stops gracefully (pulling stops, in-flight handlers get the grace).
 */
export const startConsumer = <A, I, E extends TaggedFailure, R, SE, SR>(
  source: DeliverySource<SE, SR>,
  handler: MessageHandler<A, I, E, R>,
  options: RunnerOptions
): Effect.Effect<RunningConsumer, never, Scope.Scope | R | SR> =>
  Effect.gen(function* () {
    const step = composeSteps(options.middlewares ?? [], handlerStep(handler, options.retry, options.handlerTimeoutMs)) as Step<R>
    const stopping = yield* Deferred.make<void>()
    let inFlight = 0
    const deferrals = makeDeferralCounter()
    // The per-delivery path is plain flatMaps (no generator, no finalizer): it runs once per
    // message, and each Effect layer here cost a measurable share of the runner's throughput.
    const settleOne = (received: Delivery): Effect.Effect<Settled, never, R> => {
      const delivery = deferrals.adjust(received)
      // Past its attempts (it crashed the process each time): `decide` dead-letters a retryable
      // failure at this count as attempts-exhausted, without the handler running again.
      const outcome: Effect.Effect<Outcome, never, R> = exhaustedBeforeRun(delivery.deliveryCount, options.retry)
        ? Effect.succeed(failed("retry", "AttemptsExhausted", `delivered ${delivery.deliveryCount} times, policy allows ${options.retry.maxAttempts}`))
        : step(delivery)
      return andThen(outcome, (outcome) =>
        tapNow(settle(delivery, outcome, options.retry, options.deadLetters), (settled) => deferrals.record(delivery, settled.settlement))
      )
    }
    const interceptors = yield* Effect.forEach(options.interceptors ?? [], (i) => (Effect.isEffect(i) ? i : Effect.succeed(i)))
    const onSettled = options.onSettled
    // Built by plain calls (sync-first.ts): when nothing in it waits, the result is a completed Exit
    // and the delivery was handled and settled by the time this returns.
    const processOne = (delivery: Delivery): Effect.Effect<Settled, never, R> => {
      let process = (): Effect.Effect<Settled, never, R> => settleOne(delivery)
      for (let i = interceptors.length - 1; i >= 0; i--) {
        const intercept = interceptors[i]!
        const inner = process
        process = () => intercept(delivery, inner)
      }
      const processed = process()
      return onSettled === undefined ? processed : tapNow(processed, (settled) => onSettled(delivery, settled.outcome, settled.settlement))
    }
    // A fixed pool of workers takes deliveries from a plain buffer: at most `concurrency` in
    // flight, and no fiber forked per message. A worker takes the next delivery synchronously while
    // any is buffered and parks only when the buffer is empty, so a worker hops through the
    // scheduler once per chunk, not once per message (an Effect Queue made every take a suspension).
    // A delivery whose processing completed synchronously costs the worker no Effect step at all.
    const workers = Math.max(1, options.concurrency)
    const buffer = makeHandoff<Delivery>()
    const slice = makeTimeSlice(syncSliceMs)
    const worker: Effect.Effect<void, never, R> = Effect.flatMap(FiberRef.get(FiberRef.currentLogAnnotations), (annotations) =>
      Effect.suspend(function loop(): Effect.Effect<void, never, R> {
        for (;;) {
          // Handlers that compute for long without suspending: after a slice of synchronous work
          // (every worker's), let timers (heartbeats) and the socket have their turn first.
          if (slice.exhausted()) return Effect.flatMap(slice.nextTurn, () => Effect.suspend(loop))
          const d = buffer.poll()
          if (d === undefined) return buffer.ended() ? Effect.void : Effect.flatMap(buffer.waitForWork, () => Effect.suspend(loop))
          inFlight++
          const processed = processOne(d)
          if (isDone(processed)) {
            inFlight--
            continue
          }
          // Log annotations are set on the worker's fiber and not restored afterwards (the next
          // delivery that logs overwrites them): Effect.annotateLogs, which restores them, cost
          // about half of the runner's time per message. A synchronous delivery cannot log through
          // Effect, so it needs none.
          const annotated = HashMap.set(HashMap.set(annotations, "messageId", d.messageId), "subject", d.subject)
          return Effect.flatMap(Effect.zipRight(FiberRef.set(FiberRef.currentLogAnnotations, annotated), processed), () => {
            inFlight--
            return Effect.suspend(loop)
          })
        }
      })
    ).pipe(Effect.annotateLogs("consumer", options.name))
    // When the source ends (stopped, or failed) the workers finish what is buffered and then
    // return; a source failure is reported only after the workers finished, never by interrupting them.
    const feed = source(Deferred.await(stopping)).pipe(
      // Whole chunks, and the next only once the workers took everything buffered: at most one
      // chunk waits beyond those being handled, so the client stops pulling while all are busy.
      Stream.runForEachChunk((chunk) => buffer.offer(chunk)),
      Effect.exit,
      // Not a finalizer: the workers must see the end even when the grace elapsed and everything is interrupted.
      Effect.tap(() => Effect.sync(() => buffer.end()))
    )
    const fiber = yield* Effect.all([feed, Effect.all(Array.from({ length: workers }, () => worker), { concurrency: "unbounded", discard: true })], {
      concurrency: "unbounded"
    }).pipe(
      Effect.flatMap(([fed]) => fed),
      Effect.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("consumer stopped: its delivery source failed", { consumer: options.name, cause: Cause.pretty(cause) })
      ),
      Effect.forkDaemon
    )
    const stop = Effect.gen(function* () {
      yield* Deferred.succeed(stopping, undefined)
      const finished = yield* Fiber.await(fiber).pipe(Effect.timeout(options.shutdownGraceMs), Effect.option)
      if (finished._tag === "None") {
        yield* Effect.logWarning("shutdown grace elapsed; interrupting in-flight handlers (their messages will be redelivered)", {
          consumer: options.name,
          inFlight
        })
        yield* Fiber.interrupt(fiber)
      }
    })
    yield* Effect.addFinalizer(() => stop)
    return {
      name: options.name,
      inFlight: Effect.sync(() => inFlight),
      stop,
      done: Fiber.join(fiber)
    }
  })
