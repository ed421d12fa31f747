import { defineHandler, type Middleware, type Publisher, type RetryPolicy } from "@conveyor/messaging"
import { NatsConnection, runJetStreamConsumer } from "@conveyor/nats"
import { continueTrace, type MetricsService } from "@conveyor/telemetry"
import type { ConsumerSpec } from "@conveyor/topology"
import { type Instance, instanceEncoder, instanceSchema, type TaggedState, type TypedMessage, type WorkflowDefinition } from "@conveyor/workflow"
import { Effect, Option, type Schema } from "effect"
import { makeWorkflowEngine, type WorkflowEngine } from "./internal/engine.js"
import { openJsonBucket, plainJson } from "./json-bucket.js"
import { runSharedTimerScheduler } from "./internal/timer-consumer.js"
import { InstanceTimers, runTimerScheduler } from "./timers.js"

export interface RunWorkflowOptions<S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage, A> {
  readonly definition: WorkflowDefinition<S, E, C, O>
  /** Decodes everything the durable delivers; a payload it rejects is dead-lettered. */
  readonly schema: Schema.Schema<A, any>
  /** The workflow's own events among the decoded ones; others are acked unread. */
  readonly select: (message: A) => Option.Option<E>
  /** Where a command the workflow sends goes (a worker's subject). */
  readonly commandSubject: (command: C) => string
  /** Where an event it emits goes, and a timer's firing event. */
  readonly eventSubject: (event: O | E) => string
  readonly consumer: ConsumerSpec
  readonly buckets: { readonly instances: string; readonly timers: string }
  readonly retry: RetryPolicy
  readonly concurrency?: number
  /** See `runJetStreamConsumer`: a handler still running after this long is interrupted and retried. */
  readonly handlerTimeoutMs?: number
  /** How often due timers are looked for (the per-replica scheduler, without `timerDurable`). */
  readonly timerPollMs?: number
  /**
   * A durable on the timer bucket's stream (`timerConsumerOf`) shared by every replica: each timer
   * then fires once across replicas (`runSharedTimerScheduler`) instead of once per replica.
   */
  readonly timerDurable?: string
  readonly publisher: Publisher["Type"]
  /**
   * Ack events with the server's confirmation (`runJetStreamConsumer`'s `confirmAcks`). Default
   * false: an event whose ack is lost comes back and is found in the instance's history (applied:
   * its timers and outbox are stored and published again under the same ids), so a confirmation
   * would only cost a round trip per event.
   */
  readonly confirmAcks?: boolean
  /** See `runJetStreamConsumer`. */
  readonly metrics?: MetricsService | undefined
  readonly middlewares?: ReadonlyArray<Middleware<any>>
  readonly onConflict?: (workflowId: string) => void
}

/**
 * Runs a workflow definition: a durable consumer feeds events to the engine and a scheduler fires
 * due timers. Illegal transitions and undecodable payloads are dead-lettered with the reason;
 * store and publish failures are retried with the policy's backoff.
 */
export const runWorkflow = <S extends TaggedState, E extends TypedMessage, C extends TypedMessage, O extends TypedMessage, A>(
  options: RunWorkflowOptions<S, E, C, O, A>
) =>
  Effect.gen(function* () {
    const client = yield* NatsConnection
    // Instances are built by the engine: only the definition's parts are encoded by their Schemas.
    const instances = yield* openJsonBucket<Instance<S, C, O>>(client, options.buckets.instances, instanceSchema(options.definition), {
      encode: instanceEncoder(options.definition)
    })
    const timers = yield* openJsonBucket(client, options.buckets.timers, InstanceTimers, { encode: plainJson })
    const engine: WorkflowEngine<S, E, C, O> = makeWorkflowEngine({
      definition: options.definition,
      instances,
      timers,
      publisher: options.publisher,
      commandSubject: options.commandSubject,
      eventSubject: options.eventSubject,
      ...(options.onConflict === undefined ? {} : { onConflict: options.onConflict })
    })
    const handler = defineHandler({
      schema: options.schema,
      handle: (message: A, context) =>
        Option.match(options.select(message), {
          onNone: () => Effect.void,
          onSome: (event) => Effect.asVoid(engine.handle(event, context.delivery.messageId))
        }),
      errors: {
        IllegalTransition: "dead-letter",
        CorruptEntry: "dead-letter",
        EncodeError: "dead-letter",
        PayloadTooLarge: "dead-letter",
        KvUnavailable: "retry",
        TooManyConflicts: "retry",
        NoStreamForSubject: "retry",
        StreamFull: "retry",
        PublishFailed: "retry"
      }
    })
    const consumer = yield* runJetStreamConsumer(handler, {
      consumer: options.consumer,
      retry: options.retry,
      concurrency: options.concurrency ?? 32,
      confirmAcks: options.confirmAcks ?? false,
      ...(options.handlerTimeoutMs === undefined ? {} : { handlerTimeoutMs: options.handlerTimeoutMs }),
      metrics: options.metrics,
      ...(options.middlewares === undefined ? {} : { middlewares: options.middlewares })
    })
    // Published as part of the trace that set the timer (its PRODUCER span a child of that transition's span).
    const fire = (timer: InstanceTimers["timers"][number]) =>
      continueTrace(timer.traceparent === undefined ? undefined : { traceparent: timer.traceparent })(
        Effect.flatMap(engine.timerMessage(timer), (m) => options.publisher.publish(m))
      )
    const scheduler = yield* (options.timerDurable === undefined
      ? runTimerScheduler({ timers, pollMs: options.timerPollMs ?? 200, fire })
      : runSharedTimerScheduler({ client, timers, durable: options.timerDurable, fire }))
    return { engine, consumer, scheduler }
  })
