import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { describe, expect, it } from "@effect/vitest"
import { useNatsCluster } from "../src/vitest.js"

const cluster = useNatsCluster()

describe("local JetStream cluster", () => {
  it("keeps a replicas-3 stream writable with its leader's node killed, and the node catches up after restart", async () => {
    const nc = await connect({ servers: cluster().urls as Array<string> })
    try {
      const jsm = await jetstreamManager(nc)
      const js = jetstream(nc)
      // Publishes until one is acknowledged: right after the stream is created (its subjects' interest
      // not yet known on every node: "no responders" on 2.10) and while a new leader is elected.
      const publish = async (subject: string, data: string) => {
        for (let i = 0; ; i++) {
          const ack = await js.publish(subject, data, { msgID: subject }).catch((e: unknown) => e as Error)
          if (!(ack instanceof Error)) return
          if (i > 100) throw ack
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      await jsm.streams.add({ name: "CLUSTERED", subjects: ["clustered.>"], num_replicas: 3 })
      await publish("clustered.a", "1")
      const leader = (await jsm.streams.info("CLUSTERED")).cluster?.leader
      expect(leader).toMatch(/^n[123]$/)
      const node = cluster().node(leader!)
      const pid = node.pid
      await node.kill()
      expect(() => process.kill(pid!, 0)).toThrow()
      // A new leader among the other two takes writes.
      await publish("clustered.b", "2")
      const newLeader = (await jsm.streams.info("CLUSTERED")).cluster?.leader
      expect(newLeader).not.toBe(leader)
      await node.restart()
      await cluster().waitReady()
      // The restarted node is a current replica again, with both messages.
      for (let i = 0; ; i++) {
        const replicas = (await jsm.streams.info("CLUSTERED")).cluster?.replicas ?? []
        if (replicas.find((r) => r.name === leader)?.current === true) break
        if (i > 300) throw new Error(`${leader} did not catch up: ${JSON.stringify(replicas)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      expect((await jsm.streams.info("CLUSTERED")).state.messages).toBe(2)
    } finally {
      await nc.close()
    }
  }, 60_000)
})
