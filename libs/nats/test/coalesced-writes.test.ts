import { useNatsServer } from "@conveyor/testing/vitest"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { coalesceWrites } from "../src/coalesced-writes.js"

const server = useNatsServer()
const open: Array<NatsConnection> = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((nc) => nc.close()))
})
const connection = async () => {
  const nc = await connect({ servers: server.url })
  open.push(nc)
  return nc
}
/** Counts what the client hands its socket (the transport's `send`, one socket write each). */
const countSends = (nc: NatsConnection) => {
  const transport = (nc as unknown as { protocol: { transport: { send: (frame: Uint8Array) => void } } }).protocol.transport
  const send = transport.send.bind(transport)
  const counter = { sends: 0 }
  transport.send = (frame) => {
    counter.sends++
    send(frame)
  }
  return counter
}
const received = async (nc: NatsConnection, subject: string, count: number) => {
  const got: Array<string> = []
  const sub = nc.subscribe(subject, { max: count })
  await nc.flush()
  const done = (async () => {
    for await (const m of sub) got.push(m.string())
  })()
  return { got, done }
}

describe("coalesceWrites", () => {
  it("recognises the client's internals (a client upgrade that changes them fails here)", async () => {
    expect(coalesceWrites(await connection())).toBe(true)
  })

  it("sends what publishes made in separate microtasks of one turn in one write, in order", async () => {
    const [publisher, reader] = [await connection(), await connection()]
    const inbox = await received(reader, "coalesced.a", 50)
    coalesceWrites(publisher)
    const counter = countSends(publisher)
    for (let i = 0; i < 50; i++) {
      publisher.publish("coalesced.a", String(i))
      await Promise.resolve() // what a fiber resuming in its own microtask does between publishes
    }
    await new Promise((r) => setImmediate(r))
    expect(counter.sends).toBe(1)
    await inbox.done
    expect(inbox.got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)))
  })

  it("sends a turn's publishes beyond the client's own 32 KiB buffer limit in one write", async () => {
    const [publisher, reader] = [await connection(), await connection()]
    const inbox = await received(reader, "coalesced.c", 100)
    coalesceWrites(publisher)
    const counter = countSends(publisher)
    const payload = "x".repeat(1_000)
    for (let i = 0; i < 100; i++) publisher.publish("coalesced.c", `${i}:${payload}`)
    await new Promise((r) => setImmediate(r))
    expect(counter.sends).toBe(1)
    await inbox.done
    expect(inbox.got.map((m) => Number(m.split(":")[0]))).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it("loses nothing published just before a drain", async () => {
    const [publisher, reader] = [await connection(), await connection()]
    const inbox = await received(reader, "coalesced.b", 3)
    coalesceWrites(publisher)
    for (const m of ["x", "y", "z"]) publisher.publish("coalesced.b", m)
    await publisher.drain()
    await inbox.done
    expect(inbox.got).toEqual(["x", "y", "z"])
  })
})
