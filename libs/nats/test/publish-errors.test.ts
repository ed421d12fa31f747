import { Publisher } from "@conveyor/messaging"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology } from "@conveyor/topology"
import { Effect } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ensureTopology, JetStreamPublisherLive } from "../src/index.js"
import { useTestClient } from "./support.js"

const server = useNatsServer()
const conn = useTestClient(server)

const bytes = (n: number) => new Uint8Array(n).fill(97)
const publishEither = (subject: string, payload: Uint8Array) =>
  conn.runtime.runPromise(Effect.flatMap(Publisher, (p) => Effect.either(p.publish({ subject, payload }))).pipe(Effect.provide(JetStreamPublisherLive)))

describe("publish errors are typed, never silent", () => {
  it("NoStreamForSubject when no stream captures the subject", async () => {
    const result = await publishEither(`${uniqueName("nowhere").toLowerCase()}.x`, bytes(3))
    expect(result._tag).toBe("Left")
    if (result._tag === "Left") expect(result.left._tag).toBe("NoStreamForSubject")
  })

  it("PayloadTooLarge over the stream's max message size and over the server's max_payload", async () => {
    const name = uniqueName("SMALL")
    await conn.runtime.runPromise(ensureTopology(defineTopology({ streams: [{ name, subjects: [`${name.toLowerCase()}.>`], maxMsgSize: 100 }] })))
    const overStream = await publishEither(`${name.toLowerCase()}.a`, bytes(200))
    expect(overStream._tag === "Left" && overStream.left._tag).toBe("PayloadTooLarge")
    const overServer = await publishEither(`${name.toLowerCase()}.a`, bytes(2 * 1024 * 1024))
    expect(overServer._tag === "Left" && overServer.left._tag).toBe("PayloadTooLarge")
  })

  it("StreamFull when a discard-new stream is at its limit", async () => {
    const name = uniqueName("FULL")
    await conn.runtime.runPromise(ensureTopology(defineTopology({ streams: [{ name, subjects: [`${name.toLowerCase()}.>`], maxMsgs: 2, discard: "new" }] })))
    expect((await publishEither(`${name.toLowerCase()}.a`, bytes(1)))._tag).toBe("Right")
    expect((await publishEither(`${name.toLowerCase()}.a`, bytes(1)))._tag).toBe("Right")
    const third = await publishEither(`${name.toLowerCase()}.a`, bytes(1))
    expect(third._tag === "Left" && third.left._tag).toBe("StreamFull")
    expect((await conn.client.jsm.streams.info(name)).state.messages).toBe(2)
  })

  it("a batch publish keeps every message, in order, with a bounded window", async () => {
    const name = uniqueName("BATCH")
    const subject = `${name.toLowerCase()}.a`
    await conn.runtime.runPromise(ensureTopology(defineTopology({ streams: [{ name, subjects: [`${name.toLowerCase()}.>`] }] })))
    const messages = Array.from({ length: 500 }, (_, i) => ({ subject, payload: new TextEncoder().encode(String(i)), msgId: `b-${i}` }))
    const acks = await conn.runtime.runPromise(Effect.flatMap(Publisher, (p) => p.publishAll(messages, { maxInFlight: 8 })).pipe(Effect.provide(JetStreamPublisherLive)))
    expect(acks).toHaveLength(500)
    expect(new Set(acks.map((a) => a.seq)).size).toBe(500)
    const last = await conn.client.jsm.streams.getMessage(name, { last_by_subj: subject })
    expect(new TextDecoder().decode(last!.data)).toBe(String(acks.findIndex((a) => a.seq === 500)))
  })
})
