// A pull inbox receives whatever a push consumer is aimed at (nats-server does not check a
// consumer's deliver subject, issue 8274): the pull loop must hand out only its own durable's
// deliveries. deploy/test/nats-auth.test.ts has the same attack with the generated users.
import { eventually } from "@conveyor/testing"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { AckPolicy, DeliverPolicy, StorageType } from "@nats-io/jetstream"
import { Chunk, Effect, Stream } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { pullDeliveries } from "../src/index.js"
import { setupRuntime } from "./runtime-support.js"
import { useTestClient } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

describe("the pull loop against a push consumer aimed at its inbox", () => {
  it("drops the pushed message and delivers only what its own durable sent", async () => {
    const rt = await setupRuntime(conn)
    const { nc, js, jsm } = conn.client
    // Another stream holding the forged message.
    const other = uniqueName("FORGE")
    await jsm.streams.add({ name: other, subjects: [`${other.toLowerCase()}.>`], storage: StorageType.Memory })
    await js.publish(`${other.toLowerCase()}.capture`, JSON.stringify({ forged: true }))

    // The pull request's reply subject is the inbox (what /connz?subs=1 would list).
    const pullRequest = nc.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${rt.stream}.worker`, { max: 1 })
    const first = Effect.runPromise(
      pullDeliveries(conn.client, { stream: rt.stream, durable: "worker", batch: 1, confirmAcks: false }).pipe(
        Stream.take(1),
        Stream.mapEffect((d) => Effect.as(d.ack, { subject: d.subject, stream: d.stream })),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray),
        Effect.timeout("20 seconds")
      )
    )
    let inbox = ""
    for await (const m of pullRequest) inbox = m.reply ?? ""
    expect(inbox).not.toBe("")

    const pusher = await jsm.consumers.add(other, { deliver_subject: inbox, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All })
    await eventually(async () => (await jsm.consumers.info(other, pusher.name)).delivered.consumer_seq > 0, 15_000, "the forged push delivered")
    await rt.publishRaw(`${rt.prefix}.real`, { real: true })

    expect(await first).toEqual([{ subject: `${rt.prefix}.real`, stream: rt.stream }])
  })
})
