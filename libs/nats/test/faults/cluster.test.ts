// On a three-node JetStream cluster (replicas 3): the topology is ensured and its drift reported as
// on one node, and a consumer keeps consuming when the node it is connected to is SIGKILLed.
import { eventually } from "@conveyor/testing"
import { defineHandler, makeRetryPolicy, Publisher } from "@conveyor/messaging"
import { uniqueName, useNatsCluster } from "@conveyor/testing/vitest"
import { defineTopology, replicatedTopology } from "@conveyor/topology"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureTopology, JetStreamPublisherLive, planTopology, runJetStreamConsumer } from "../../src/index.js"
import { openClient, runScoped, type TestClient } from "../support.js"
import { Job } from "./fixtures/job.js"
import { jobMessage, jobs } from "./support.js"

const cluster = useNatsCluster()
let conn: TestClient
beforeAll(async () => {
  conn = await openClient(cluster().url, "cluster-test")
})
afterAll(async () => {
  await conn?.close()
})

/**
 * `ensureTopology` as the apps run it at start-up (libs/orders `provisionOrderTopology` retries it):
 * on a loaded machine a replicas-3 create can outlast the API request's timeout, and creating the
 * same resource again is idempotent. Only a timeout is tried again.
 */
const ensure = (topology: Parameters<typeof ensureTopology>[0]) =>
  conn.runtime.runPromise(ensureTopology(topology).pipe(
    Effect.retry({ times: 3, while: (e) => e._tag === "ProvisioningFailed" && /timeout/i.test(e.cause) })
  ))

const topologyOf = (name: string) => {
  const lower = name.toLowerCase()
  return replicatedTopology(defineTopology({
    streams: [{ name, subjects: [`${lower}.jobs.>`] }],
    consumers: [{ stream: name, durable: "worker", filterSubjects: [`${lower}.jobs.>`], ackWaitMs: 2_000 }],
    buckets: [{ name: `${name}_KV` }]
  }), 3)
}

describe("three-node cluster", () => {
  it("ensures a replicas-3 topology, changes nothing the second time, and reports replicas drift", async () => {
    const name = uniqueName("R3TOPO")
    const topology = topologyOf(name)
    await ensure(topology)
    const stream = await conn.client.jsm.streams.info(name)
    expect(stream.config.num_replicas).toBe(3)
    expect(stream.cluster?.replicas?.length).toBe(2)
    expect((await conn.client.jsm.streams.info(`KV_${name}_KV`)).config.num_replicas).toBe(3)
    const again = await conn.runtime.runPromise(planTopology(conn.client, topology))
    expect(again.diffs.map((d) => d.plan._tag)).toEqual(["InSync", "InSync", "InSync"])

    // The stream scaled down behind our back: the plan names the field, ensure scales it back.
    await conn.client.jsm.streams.update(name, { ...stream.config, num_replicas: 1 })
    const drifted = await conn.runtime.runPromise(planTopology(conn.client, topology))
    expect(drifted.diffs[0]!.plan).toEqual({ _tag: "Update", kind: "stream", name, changes: [{ field: "replicas", declared: 3, actual: 1 }] })
    await ensure(topology)
    await eventually(async () => ((await conn.client.jsm.streams.info(name)).cluster?.replicas?.length ?? 0) === 2, 30_000, "three replicas again")
  }, 60_000)

  it("keeps consuming, nothing lost, when the node the consumer is connected to is SIGKILLed", async () => {
    const name = uniqueName("R3FAIL")
    const topology = topologyOf(name)
    await ensure(topology)
    const consumerClient = await openClient(cluster().url, "cluster-consumer")
    try {
      const seen = new Set<string>()
      const handler = defineHandler({ schema: Job, handle: (job) => Effect.sync(() => void seen.add(job.id)), errors: {} })
      const consumer = await runScoped(consumerClient.runtime, runJetStreamConsumer(handler, {
        consumer: topology.consumers[0]!,
        retry: makeRetryPolicy({ maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 1_000 }),
        concurrency: 8,
        deadLetters: false
      }))
      const publisher = await conn.runtime.runPromise(Effect.provide(Publisher, JetStreamPublisherLive))
      const publish = async (batch: ReadonlyArray<Job>) => {
        for (const job of batch) {
          // Retried with the same id until the stream confirms it (the leader may be moving).
          for (let attempt = 0; ; attempt++) {
            const result = await Effect.runPromise(Effect.either(publisher.publish(jobMessage(`${name.toLowerCase()}.jobs.placed`, job))))
            if (result._tag === "Right") break
            if (attempt > 200) throw new Error(`publish of ${job.id} kept failing: ${result.left.message}`)
            await new Promise((r) => setTimeout(r, 100))
          }
        }
      }
      const before = jobs("before", 100)
      await publish(before)
      await eventually(() => seen.size === before.length, 30_000, "the first batch consumed")

      const connectedTo = consumerClient.client.nc.info!.server_name
      const node = cluster().node(connectedTo)
      await node.kill()
      const after = jobs("after", 100)
      await publish(after)
      await eventually(() => after.every((j) => seen.has(j.id)), 60_000, "the second batch consumed after the kill")
      expect(consumerClient.client.nc.info!.server_name).not.toBe(connectedTo)
      expect(seen.size).toBe(before.length + after.length)
      await consumer.close()
      await node.restart()
      await cluster().waitReady()
    } finally {
      await consumerClient.close()
    }
  }, 120_000)
})

