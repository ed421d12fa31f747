/**
 * Span attribute keys from the OpenTelemetry messaging semantic conventions. They are copied here rather
 * than imported from `@opentelemetry/semantic-conventions/incubating`, which the OTel authors ask users
 * not to depend on because its names may change in minor releases.
 */
export const MessagingAttributes = {
  system: "messaging.system",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  destinationName: "messaging.destination.name",
  messageId: "messaging.message.id",
  bodySize: "messaging.message.body.size",
  consumerGroupName: "messaging.consumer.group.name",
  /** Not in the conventions for NATS; named after the system-specific pattern (`messaging.<system>.*`). */
  deliveryCount: "messaging.nats.message.delivery_count",
  stream: "messaging.nats.stream",
  streamSequence: "messaging.nats.message.stream_sequence",
  errorType: "error.type"
} as const

/** `nats` is not in the conventions' list; the spec allows a custom value for other systems. */
export const MESSAGING_SYSTEM = "nats"

/**
 * The conventions renamed operation type `publish` to `send` (publish is deprecated); the span name keeps
 * the NATS verb `publish`, which also goes to `messaging.operation.name`.
 */
export const OperationType = { send: "send", process: "process" } as const

/** What the messaging runtime knows about a message; every field is optional. */
export interface MessageInfo {
  readonly messageId?: string | undefined
  readonly stream?: string | undefined
  readonly streamSequence?: number | undefined
  /** The durable consumer's name. */
  readonly consumerGroup?: string | undefined
  readonly deliveryCount?: number | undefined
  readonly bodySize?: number | undefined
  /** Anything else to put on the span, verbatim. */
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

export const messageAttributes = (info: MessageInfo | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (info === undefined) return out
  const set = (key: string, value: unknown) => {
    if (value !== undefined) out[key] = value
  }
  set(MessagingAttributes.messageId, info.messageId)
  set(MessagingAttributes.stream, info.stream)
  set(MessagingAttributes.streamSequence, info.streamSequence)
  set(MessagingAttributes.consumerGroupName, info.consumerGroup)
  set(MessagingAttributes.deliveryCount, info.deliveryCount)
  set(MessagingAttributes.bodySize, info.bodySize)
  return { ...out, ...info.extra }
}
