import { useNatsServer } from "@conveyor/testing/vitest"
import { Kvm } from "@nats-io/kv"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { kvWriteRate, otelSpanMicros } from "../src/floors.js"
import { rawClient, type RawClient } from "../src/harness.js"
import { type OtlpSink, startOtlpSink } from "../src/sink.js"

const server = useNatsServer()
let raw: RawClient
let sink: OtlpSink
beforeAll(async () => {
  raw = await rawClient(server.url)
  sink = await startOtlpSink()
})
afterAll(async () => {
  await sink?.stop()
  await raw?.nc.close()
})

describe("floors: what the machine and the libraries cost before Conveyor's code", () => {
  it("kvWriteRate answers once every create is acknowledged, and removes its bucket", async () => {
    const rate = await kvWriteRate(raw.nc, 600, 64)
    expect(rate).toBeGreaterThan(0)
    const buckets: string[] = []
    for await (const status of new Kvm(raw.js).list()) buckets.push(status.bucket)
    expect(buckets.filter((b) => b.startsWith("floor_"))).toEqual([])
  })

  it("otelSpanMicros exports every span it made before answering", async () => {
    const before = await sink.spans()
    const micros = await otelSpanMicros(sink.url, 1_200)
    expect(micros).toBeGreaterThan(0)
    expect((await sink.spans()) - before).toBe(1_200)
  })
})
