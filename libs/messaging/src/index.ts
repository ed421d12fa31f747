// The public API of @conveyor/messaging. Everything else is implementation: not exported.

// Handlers: typed events, typed errors each mapped to how it is handled.
export { DecodeFailure, defineHandler, type HandlerContext, type MessageHandler } from "./handler.js"
export { type ErrorHandling, type ErrorHandlingMap, type TaggedFailure } from "./error-handling.js"
export { defaultRetryPolicy, makeRetryPolicy, redeliveryWindowMs, RetryPolicy } from "./retry-policy.js"

// What became of a delivery: what handling decided (Outcome), what the broker was told (Settlement).
export { type FailureInfo, type Outcome, type Settlement } from "./outcome.js"
export { type BrokerInstruction } from "./internal/decide.js"

// The runner and its one extension point.
export { type DeliverySource, type RunnerOptions, type RunningConsumer, startConsumer } from "./runner.js"
export { type DeliveryResult, type HandleDelivery, type Middleware, tapResult } from "./middleware.js"
export { metrics } from "./middleware/metrics.js"
export { oneAtATimePerKey, type OnePerKeyOptions } from "./middleware/one-per-key.js"
export { tracing } from "./middleware/tracing.js"
export { type HeartbeatOptions } from "./internal/stages/heartbeat.js"
export { type IdempotencyOptions } from "./internal/stages/idempotency.js"
export { type PublishOutputsOptions } from "./internal/stages/publish-outputs.js"
export { AckFailed, type Delivery } from "./delivery.js"

// Publishing.
export { derivedMessageId, encodeMessage, EncodeError, isDerivedFrom, type OutgoingMessage, type PublishAck, utf8Bytes } from "./outgoing.js"
export { NoStreamForSubject, PayloadTooLarge, type PublishError, PublishFailed, StreamFull } from "./publish-error.js"
export { publishEvent, Publisher } from "./publisher.js"
export { layerTracedPublisher, tracedPublisher } from "./traced-publisher.js"

// Bounding a request path; the runtime's concurrent steps without a forked fiber; a wait with a
// canceller that the runner's evaluation cancels itself (the adapters' own waits).
export { timeoutFailOnceWaiting } from "./timeout.js"
export { startAlongside } from "./alongside.js"
export { cancellableAsync } from "./internal/effect-adapter.js"

// Dead letters and idempotency, for the adapters that store them.
export { DeadLetterFailed, DeadLetterHeaders, deadLetterHeaders, type DeadLetterRecord, DeadLetterSink } from "./dead-letter.js"
export {
  type Claim,
  ClaimLost,
  type ClaimResult,
  IdempotencyStore,
  type IdempotencyStoreShape,
  makeMemoryIdempotencyStore,
  StoreUnavailable
} from "./idempotency.js"
