import { eventually } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { kvStreamName } from "../../src/index.js"
import { useTestClient } from "../support.js"
import { cleanupFaults, faultSetup, jobs, publishJobs, runJobWorker, storedMessageIds, waitDrained } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)
afterAll(cleanupFaults)

describe("the write completing an idempotency record fails after the effect happened", () => {
  it("is retried with the claim before the ack: the record ends done, a later delivery of the id is a duplicate", { timeout: 60_000 }, async () => {
    const setup = await faultSetup(conn.runtime, "IDEMREC", { ackWaitMs: 2_000 })
    const bucketStream = kvStreamName(setup.bucket)
    // The store refuses the completing write for a while: a real server-side refusal of the KV put
    // (the record is larger than the bucket now allows), the claim's pending record already stored.
    const runs = new Map<string, number>()
    let restored: Promise<unknown> | undefined
    const refuseWrites = async () => {
      await conn.client.jsm.streams.update(bucketStream, { max_msg_size: 8 })
      restored = new Promise((r) => setTimeout(r, 1_500)).then(() => conn.client.jsm.streams.update(bucketStream, { max_msg_size: -1 }))
    }
    const consumer = await runJobWorker(conn, setup, {
      runs,
      before: (job) => (runs.get(job.id) === 1 ? Effect.promise(refuseWrites) : Effect.void),
      retry: { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 500 },
      concurrency: 4
    })
    try {
      const [job] = jobs("rec", 1)
      await publishJobs(conn.runtime, setup.jobSubject, [job!])
      await eventually(() => restored !== undefined, 20_000, "the handler to run")
      await restored
      await waitDrained(conn.client, setup.name, "worker")
      expect(runs.get(job!.id)).toBe(1)
      expect(await storedMessageIds(conn.client, setup.outputStream)).toHaveLength(1)
      // The record is done: another delivery of this id (a re-publish past the duplicate window, a
      // replay) is acked as a duplicate at once instead of waiting out a lease and running again.
      const again = await Effect.runPromise(consumer.store.claim(`${setup.consumer.durable}.${job!.id}`, 2_000))
      expect(again._tag).toBe("AlreadyDone")
    } finally {
      await consumer.close()
    }
  })
})
