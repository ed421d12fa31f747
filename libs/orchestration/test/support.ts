import type { NatsClient } from "@conveyor/nats"
import type { PendingTimer } from "@conveyor/workflow"
import { Kvm } from "@nats-io/kv"

export const createBucket = (client: NatsClient, name: string) => new Kvm(client.js).create(name, { history: 5 })

/** A first-attempt "expire" timer of `workflowId`, due at `dueAt` (epoch ms). */
export const timer = (workflowId: string, dueAt: number): PendingTimer =>
  ({ workflowId, name: "expire", timerId: `${workflowId}:1:timer:expire`, dueAt, attempt: 1 })
