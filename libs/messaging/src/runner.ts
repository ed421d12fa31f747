import { consumerSpans } from "@conveyor/telemetry"
import { Cause, Deferred, Effect, Exit, Fiber, Option, type Scope, Stream } from "effect"
import type { DeadLetterSink } from "./dead-letter.js"
import { exhaustedBeforeRun } from "./internal/decide.js"
import type { Delivery } from "./delivery.js"
import { enterDelivery, workerBase } from "./internal/delivery-state.js"
import { makeDeferralCounter } from "./internal/deferrals.js"
import type { TaggedFailure } from "./error-handling.js"
import type { MessageHandler } from "./handler.js"
import { makeHandoff } from "./internal/handoff.js"
import { awaitPending, runFirst } from "./internal/effect-adapter.js"
import type { DeliveryResult, HandleDelivery, Middleware } from "./middleware.js"
import { heartbeat, type HeartbeatOptions } from "./internal/stages/heartbeat.js"
import { idempotency, type IdempotencyOptions } from "./internal/stages/idempotency.js"
import { publishOutputs, type PublishOutputsOptions } from "./internal/stages/publish-outputs.js"
import { failed, type Outcome } from "./outcome.js"
import type { RetryPolicy } from "./retry-policy.js"
import { runHandler } from "./internal/run-handler.js"
import { settle } from "./internal/settle.js"
import type { ProcessDelivery, Stage } from "./internal/stage.js"
import { makeTimeSlice } from "./internal/time-slice.js"

export interface RunnerOptions {
  /** Durable name, for logs and metrics. */
  readonly name: string
  /** Handlers running at once; deliveries beyond it wait in the source. */
  readonly concurrency: number
  readonly retry: RetryPolicy
  readonly deadLetters?: DeadLetterSink["Type"]
  /** After a stop, how long in-flight handlers may take before they are interrupted (redelivered later). */
  readonly shutdownGraceMs: number
  /** A handler still running after this long is interrupted and retried with backoff (`runHandler`). */
  readonly handlerTimeoutMs?: number | undefined
  /**
   * What happens between the handler and the broker, each on when given, always in this order
   * (outermost first): outputs published before the ack, then idempotency, then heartbeats.
   */
  readonly publishOutputs?: PublishOutputsOptions
  readonly idempotency?: IdempotencyOptions
  readonly heartbeat?: HeartbeatOptions
  /** Wrap the handling of each delivery, settlement included (tracing, metrics, your own), outermost first. */
  readonly middlewares?: ReadonlyArray<Middleware<any>>
}

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
    const stages: Array<Stage<any>> = []
    if (options.publishOutputs !== undefined) stages.push(publishOutputs(options.publishOutputs))
    if (options.idempotency !== undefined) stages.push(idempotency(options.idempotency))
    const beats = options.heartbeat === undefined ? undefined : heartbeat(options.heartbeat)
    if (beats !== undefined) stages.push(beats.stage)
    const process = stages.reduceRight<ProcessDelivery<any>>((next, stage) => stage(next), runHandler(handler, options.retry, options.handlerTimeoutMs))
    const stopping = yield* Deferred.make<void>()
    // With a tracer, the consumer span (the `tracing` middleware) carries each delivery's trace
    // context; without one, the runner puts it on the fiber itself (delivery-state.ts).
    const carriesTraceContext = Option.isNone(yield* consumerSpans)
    let inFlight = 0
    const deferrals = makeDeferralCounter()
    // Middlewares see the delivery as the broker sent it; the stages and the policy judge it by its
    // count less the deferrals seen here (deferrals.ts).
    const handleOne: HandleDelivery<any> = (received) =>
      Effect.suspend(() => {
        const delivery = deferrals.adjust(received)
        // Past its attempts (it crashed the process each time): `decide` dead-letters a retryable
        // failure at this count as attempts-exhausted, without the handler running again.
        const outcome: Effect.Effect<Outcome, never, unknown> = exhaustedBeforeRun(delivery.deliveryCount, options.retry)
          ? Effect.succeed(failed("retry", "AttemptsExhausted", `delivered ${delivery.deliveryCount} times, policy allows ${options.retry.maxAttempts}`))
          : process(delivery)
        return Effect.flatMap(outcome, (outcome) =>
          Effect.map(settle(delivery, outcome, options.retry, options.deadLetters), (result): DeliveryResult => {
            deferrals.record(delivery, result.settlement)
            return result
          })
        )
      })
    const handle = (options.middlewares ?? []).reduceRight<HandleDelivery<any>>((next, middleware) => middleware(next), handleOne) as HandleDelivery<R>
    // A fixed pool of workers takes deliveries from a plain buffer: at most `concurrency` in
    // flight, and no fiber forked per message. A worker takes the next delivery synchronously while
    // any is buffered and parks only when the buffer is empty, so a worker hops through the
    // scheduler once per chunk, not once per message (an Effect Queue made every take a suspension).
    // A delivery whose processing completed synchronously costs the worker no Effect step at all.
    const workers = Math.max(1, options.concurrency)
    const buffer = makeHandoff<Delivery>()
    const slice = makeTimeSlice(syncSliceMs)
    // The one place that knows how a delivery is evaluated (internal/effect-adapter.ts): its
    // handling runs by plain calls on the worker's behalf, through its waits, and the worker's fiber
    // suspends once for a delivery that waits. Handlers and middlewares are plain Effect.
    const worker: Effect.Effect<void, never, R> = Effect.withFiberRuntime<void, never, R>((fiber) => {
      const worker = fiber as Fiber.RuntimeFiber<unknown, unknown>
      const base = workerBase(worker)
      const loop = (): Effect.Effect<void, never, R> => {
        for (;;) {
          // Handlers that compute for long without suspending: after a slice of synchronous work
          // (every worker's), let timers (heartbeats) and the socket have their turn first.
          if (slice.exhausted()) return Effect.flatMap(slice.nextTurn, loop)
          const d = buffer.poll()
          if (d === undefined) return buffer.ended() ? Effect.void : Effect.flatMap(buffer.waitForWork, loop)
          inFlight++
          // The delivery's log annotations and trace context (internal/delivery-state.ts), set only
          // for a delivery that uses the fiber: most quick ones never do.
          const handled = runFirst(handle(d), worker, () => enterDelivery(worker, base, d, carriesTraceContext))
          if (Exit.isExit(handled) && Exit.isSuccess(handled)) {
            inFlight--
            continue
          }
          return Effect.flatMap(Exit.isExit(handled) ? handled : awaitPending(handled, worker.id()), () => {
            inFlight--
            return loop()
          })
        }
      }
      // The loop itself is evaluated through its waits too (parking for work, a delivery that
      // waits): the worker's fiber suspends once for its whole life, and the loop goes on in the
      // callbacks that end those waits rather than through the Effect scheduler.
      const running = runFirst(loop(), worker)
      return Exit.isExit(running) ? running : awaitPending(running, worker.id())
    }).pipe(Effect.annotateLogs("consumer", options.name))
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
      // However the workers ended (interrupted once the grace elapsed included), nothing is in flight.
      Effect.ensuring(Effect.sync(() => beats?.stop())),
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
