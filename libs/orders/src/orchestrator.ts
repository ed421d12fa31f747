import { Buckets, commandSubject, Durables, eventSubject, isOrderWorkflowEvent, makeOrderWorkflow, OrderEventMessage } from "@conveyor/domain"
import { Publisher } from "@conveyor/messaging"
import { runWorkflow } from "@conveyor/orchestration"
import { Config, Effect, Layer, Option } from "effect"
import { ConsumerConfig, consumerSpec, consumerTelemetry } from "./consumers.js"

/**
 * Environment: `ORDER_STEP_TIMEOUT_MS` (default 30000), `ORDER_MAX_ATTEMPTS` (forward-step
 * attempts before compensating, default 3), `TIMER_POLL_MS` (unused: timers fire through the
 * shared durable `orchestrator-timers`, once across replicas; kept for the per-replica scheduler).
 */
export const OrchestratorConfig = Config.all({
  stepTimeoutMs: Config.integer("ORDER_STEP_TIMEOUT_MS").pipe(Config.withDefault(30_000)),
  maxAttempts: Config.integer("ORDER_MAX_ATTEMPTS").pipe(Config.withDefault(3)),
  timerPollMs: Config.integer("TIMER_POLL_MS").pipe(Config.withDefault(200))
})

/** The orchestrator: the order workflow on its durable over the events it consumes, plus its timers. */
export const OrchestratorLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const consumer = yield* ConsumerConfig
    const config = yield* OrchestratorConfig
    const definition = makeOrderWorkflow({ stepTimeoutMs: config.stepTimeoutMs, maxAttempts: config.maxAttempts })
    yield* runWorkflow({
      definition,
      schema: OrderEventMessage,
      select: (event) => (isOrderWorkflowEvent(event) ? Option.some(event) : Option.none()),
      commandSubject,
      eventSubject,
      consumer: consumerSpec(Durables.orchestrator),
      buckets: { instances: Buckets.workflows, timers: Buckets.timers },
      retry: consumer.retry,
      concurrency: consumer.concurrency,
      handlerTimeoutMs: consumer.handlerTimeoutMs,
      timerPollMs: config.timerPollMs,
      timerDurable: Durables.orchestratorTimers,
      publisher: yield* Publisher,
      ...(yield* consumerTelemetry(Durables.orchestrator))
    })
  })
)
