import { Cause, Deferred, Effect, Fiber, Queue, type Scope, Stream } from "effect"
import type { DeadLetterSink } from "./dead-letter.js"
import { type Action, exhaustedBeforeRun } from "./decide.js"
import type { Delivery } from "./delivery.js"
import { makeDeferralCounter } from "./deferrals.js"
import type { TaggedFailure } from "./disposition.js"
import type { MessageHandler } from "./handler.js"
import { handlerStep } from "./handler-step.js"
import type { RetryPolicy } from "./retry-policy.js"
import { settle, type Settlement } from "./settle.js"
import { failed, type Middleware, type Outcome, type Step } from "./step.js"

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
  /** Called after each delivery is settled (metrics, tests). */
  readonly onSettled?: (delivery: Delivery, outcome: Outcome, settlement: Settlement) => void
  /** Wrap each delivery's processing and settlement (tracing, metrics), outermost first. */
  readonly interceptors?: ReadonlyArray<DeliveryInterceptor>
}

/** What became of one delivery: its outcome and what the broker was told. */
export interface Settled {
  readonly outcome: Outcome
  readonly action: Action
  readonly settlement: Settlement
}

/**
 * Wraps the processing of one delivery from hand-out to settlement. Unlike a middleware it sees
 * what the broker was told (a failure may be retried or dead-lettered), so tracing and counting
 * hook in here.
 */
export type DeliveryInterceptor = <R>(delivery: Delivery, process: Effect.Effect<Settled, never, R>) => Effect.Effect<Settled, never, R>

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

const End = Symbol("End")

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
    const step = composeSteps(options.middlewares ?? [], handlerStep(handler, options.retry)) as Step<R>
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
      return Effect.flatMap(outcome, (outcome) =>
        Effect.map(settle(delivery, outcome, options.retry, options.deadLetters), ({ action, settlement }) => {
          deferrals.record(delivery, settlement)
          return { outcome, action, settlement }
        })
      )
    }
    const interceptors = options.interceptors ?? []
    const onSettled = options.onSettled
    const processOne = (delivery: Delivery) => {
      const processed = interceptors.reduceRight((inner, intercept) => intercept(delivery, inner), settleOne(delivery))
      return Effect.annotateLogs(
        onSettled === undefined ? processed : Effect.tap(processed, ({ outcome, settlement }) => Effect.sync(() => onSettled(delivery, outcome, settlement))),
        { messageId: delivery.messageId, subject: delivery.subject }
      )
    }
    // A fixed pool of workers takes deliveries from a one-slot hand-off queue: at most
    // `concurrency` in flight, the source waits while all are busy (so the client stops pulling),
    // and no fiber is forked per message (Stream.mapEffect's per-element machinery cost ~10x).
    const workers = Math.max(1, options.concurrency)
    const handoff = yield* Queue.bounded<Delivery | typeof End>(1)
    // In-flight is counted here rather than in a finalizer per delivery: a worker stops early only
    // when interrupted, and then the count no longer matters.
    const worker: Effect.Effect<void, never, R> = Effect.gen(function* () {
      for (;;) {
        const d = yield* Queue.take(handoff)
        if (d === End) return
        inFlight++
        yield* processOne(d)
        inFlight--
      }
    }).pipe(Effect.annotateLogs("consumer", options.name))
    // When the source ends (stopped, or failed) each worker gets an end marker behind whatever is
    // queued, so queued deliveries are still handled; a source failure is reported only after the
    // workers finished, never by interrupting them.
    const feed = source(Deferred.await(stopping)).pipe(
      // Whole chunks: one hand-off per chunk rather than per delivery; the queue stays one slot,
      // so the feed still waits until the workers took all but one.
      Stream.runForEachChunk((chunk) => Queue.offerAll(handoff, chunk)),
      Effect.exit,
      // Not a finalizer: when the grace elapses and everything is interrupted, a full hand-off
      // queue that nobody takes from any more would block it, and the stop with it, forever.
      Effect.tap(() => Queue.offerAll(handoff, Array.from({ length: workers }, () => End)))
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
