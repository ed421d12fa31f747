import { describe, expect, it } from "@effect/vitest"
import { defineTopology, diffConsumer, diffStream } from "../src/index.js"

const topo = defineTopology({
  streams: [{ name: "ORDERS", subjects: ["orders.>"] }],
  consumers: [{ stream: "ORDERS", durable: "worker", filterSubjects: ["orders.placed"] }]
})
const stream = topo.streams[0]!
const consumer = topo.consumers[0]!

describe("topology specs", () => {
  it("fills defaults", () => {
    expect(stream).toMatchObject({ storage: "file", retention: "limits", duplicateWindowMs: 120_000, discard: "old", maxMsgs: -1 })
    expect(consumer).toMatchObject({ ackWaitMs: 30_000, maxAckPending: 1_000, deliverPolicy: "all" })
  })

  it("clamps the duplicate window to max age, as the server requires", () => {
    const t = defineTopology({ streams: [{ name: "SHORT", subjects: ["s"], maxAgeMs: 60_000 }] })
    expect(t.streams[0]!.duplicateWindowMs).toBe(60_000)
  })

  it("rejects a bad declaration with the field named", () => {
    expect(() => defineTopology({ streams: [{ name: "bad name", subjects: ["x"] }] })).toThrow(/name/)
    expect(() => defineTopology({ consumers: [{ stream: "S", durable: "d", ackWaitMs: 10 }] })).toThrow(/ackWaitMs/)
  })
})

describe("diff", () => {
  it("plans a create for a missing resource", () => {
    expect(diffStream(stream, undefined).plan._tag).toBe("Create")
  })

  it("is in sync with itself, subjects compared as a set", () => {
    const actual = { ...stream, subjects: [...stream.subjects] }
    expect(diffStream(stream, actual)).toEqual({ plan: { _tag: "InSync", kind: "stream", name: "ORDERS" }, drift: [] })
    const two = { ...stream, subjects: ["a", "b"] }
    expect(diffStream(two, { ...two, subjects: ["b", "a"] }).plan._tag).toBe("InSync")
  })

  it("separates updatable changes from drift", () => {
    const actual = { ...stream, maxAgeMs: 5, storage: "memory" as const }
    const d = diffStream(stream, actual)
    expect(d.plan).toMatchObject({ _tag: "Update", changes: [{ field: "maxAgeMs", declared: 0, actual: 5 }] })
    expect(d.drift).toEqual([{ field: "storage", declared: "file", actual: "memory" }])
  })

  it("updates changed filter subjects in place (nats-server 2.10+), whatever their order, and treats a changed deliver policy as drift", () => {
    const d = diffConsumer(consumer, { ...consumer, filterSubjects: ["orders.other"], ackWaitMs: 1_000, deliverPolicy: "new" })
    expect(d.plan).toMatchObject({ _tag: "Update", changes: [{ field: "ackWaitMs" }, { field: "filterSubjects", declared: ["orders.placed"], actual: ["orders.other"] }] })
    expect(d.drift.map((c) => c.field)).toEqual(["deliverPolicy"])
    const several = { ...consumer, filterSubjects: ["orders.placed", "orders.paid"] }
    expect(diffConsumer(several, { ...several, filterSubjects: ["orders.paid", "orders.placed"] }).plan._tag).toBe("InSync")
    expect(diffConsumer(several, { ...consumer, filterSubjects: ["orders.placed"] }).plan).toMatchObject({ _tag: "Update", changes: [{ field: "filterSubjects" }] })
    const { filterSubjects: _all, ...unfiltered } = consumer
    expect(diffConsumer(unfiltered, consumer).plan).toMatchObject({ _tag: "Update", changes: [{ field: "filterSubjects", declared: undefined }] })
  })
})
