import type { NatsClient } from "@conveyor/nats"
import type { InstanceTimers } from "../src/index.js"
import type { PendingTimer } from "@conveyor/workflow"
import { Kvm } from "@nats-io/kv"

export const createBucket = (client: NatsClient, name: string) => new Kvm(client.js).create(name, { history: 5 })

/** A first-attempt "expire" timer of `workflowId`, due at `dueAt` (epoch ms). */
export const timer = (workflowId: string, dueAt: number): PendingTimer =>
  ({ workflowId, name: "expire", timerId: `${workflowId}:1:timer:expire`, dueAt, attempt: 1 })

/** An instance's timers as the engine stores them: under its key, with the instance revision they belong to. */
export const entry = (...timers: Array<PendingTimer>): InstanceTimers => ({ workflowId: timers[0]!.workflowId, revision: 1, timers })

/** The counter workflows' subjects under `prefix`: commands below `<prefix>.commands`, events (emitted and firing) below `<prefix>`. */
export const subjectsUnder = (prefix: string) => ({
  commandSubject: (command: { readonly type: string }) => `${prefix}.commands.${command.type.toLowerCase()}`,
  eventSubject: (event: { readonly type: string }) => `${prefix}.${event.type.toLowerCase()}`
})
