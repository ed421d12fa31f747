import { deadLetterSubject, defaultDeadLetters } from "@conveyor/topology"
import type { OrderCommand, OrderCommandType } from "./commands.js"
import type { OrderEvent, OrderEventType } from "./events.js"

/**
 * Subject scheme. Events: `orders.events.<type-kebab>`, one stream, so any consumer can pick all
 * events or one kind. Commands: `orders.commands.<worker>.<action>`, so each worker's durable filters
 * on a single subject (nats-server 2.9 allows one filter per consumer). Dead letters mirror the
 * subject they came from under `dlq.`, so replay can route them back.
 */
export const StreamNames = { events: "ORDER_EVENTS", commands: "ORDER_COMMANDS", deadLetters: defaultDeadLetters.stream } as const

export const AllEvents = "orders.events.>"
export const AllCommands = "orders.commands.>"
export const AllDeadLetters = `${defaultDeadLetters.subjectPrefix}.>`

export type Worker = "inventory" | "payments" | "shipping"
export const Workers: ReadonlyArray<Worker> = ["inventory", "payments", "shipping"]

const kebab = (type: string): string => type.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()

export const eventSubject = (event: OrderEvent | OrderEventType): string =>
  `orders.events.${kebab(typeof event === "string" ? event : event.type)}`

/** Which worker executes a command and the action token of its subject. */
export const commandRoutes: { readonly [T in OrderCommandType]: { readonly worker: Worker; readonly action: string } } = {
  ReserveStock: { worker: "inventory", action: "reserve" },
  ReleaseStock: { worker: "inventory", action: "release" },
  CapturePayment: { worker: "payments", action: "capture" },
  RefundPayment: { worker: "payments", action: "refund" },
  ScheduleShipment: { worker: "shipping", action: "schedule" },
  RecallShipment: { worker: "shipping", action: "recall" }
}

export const commandSubject = (command: OrderCommand | OrderCommandType): string => {
  const route = commandRoutes[typeof command === "string" ? command : command.type]
  return `orders.commands.${route.worker}.${route.action}`
}

/** Every command subject one worker consumes. */
export const workerSubject = (worker: Worker): string => `orders.commands.${worker}.>`

/** Events and commands both have a `type`; commands are the ones with a route. */
export const subjectOf = (message: OrderEvent | OrderCommand): string =>
  Object.hasOwn(commandRoutes, message.type)
    ? commandSubject(message as OrderCommand)
    : eventSubject(message as OrderEvent)

/** Where a message that failed on `consumer` of `stream` is dead-lettered: `dlq.<stream>.<consumer>`. */
export { deadLetterSubject }
