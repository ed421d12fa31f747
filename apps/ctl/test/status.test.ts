import { eventually } from "@conveyor/testing"
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { StatusReport } from "../src/index.js"
import { runInProcess, spawnCli } from "./support.js"

const server = useNatsServer()
let nc: NatsConnection
beforeAll(async () => {
  nc = await connect({ servers: server.url })
})
afterAll(async () => {
  await nc?.close()
})

/**
 * A known backlog: 10 messages; a worker fetched 4, acked 2, nak'ed 1 (then fetched it again, a
 * redelivery) and holds the others. So 6 pending, 2 ack pending, 1 redelivered, lag 8.
 */
const backlog = async () => {
  const stream = uniqueName("STATUS")
  const subject = `${stream.toLowerCase()}.work`
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] })
  await jsm.consumers.add(stream, { durable_name: "worker", ack_policy: AckPolicy.Explicit, ack_wait: 60_000_000_000 })
  await jsm.consumers.add(stream, { durable_name: "idle", ack_policy: AckPolicy.Explicit })
  const js = jetstream(nc)
  for (let i = 0; i < 10; i++) await js.publish(subject, JSON.stringify({ i }))
  const consumer = await js.consumers.get(stream, "worker")
  const fetch = async (n: number) => {
    const out: Array<JsMsg> = []
    for await (const m of await consumer.fetch({ max_messages: n, expires: 2_000 })) out.push(m)
    return out
  }
  const first = await fetch(4)
  expect(first).toHaveLength(4)
  await first[0]!.ackAck()
  await first[1]!.ackAck()
  // A nak sent as a request: the server's reply confirms it was processed before the next fetch.
  await nc.request((first[2] as unknown as { reply: string }).reply, "-NAK", { timeout: 5_000 })
  const again = await fetch(1)
  expect(again[0]!.info.redelivered).toBe(true)
  const info = await jsm.streams.info(stream)
  return { stream, bytes: info.state.bytes }
}

describe("conveyor status", () => {
  it("reports the numbers of a known backlog", async () => {
    const { stream, bytes } = await backlog()
    const result = await runInProcess("status", "--url", server.url, "--stream", stream, "--json")
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout) as StatusReport
    expect(report.streams).toEqual([{ stream, messages: 10, bytes, firstSeq: 1, lastSeq: 10, consumers: 2 }])
    const worker = report.consumers.find((c) => c.consumer === "worker")!
    expect(worker).toMatchObject({ stream, pending: 6, ackPending: 2, redelivered: 1, lag: 8 })
    expect(Date.parse(worker.lastActive!)).toBeGreaterThan(Date.parse(report.at) - 60_000)
    expect(report.consumers.find((c) => c.consumer === "idle")).toMatchObject({ pending: 10, ackPending: 0, redelivered: 0, lag: 10, lastActive: null })
  })

  it("prints a readable table", async () => {
    const { stream } = await backlog()
    const result = await runInProcess("status", "--url", server.url, "--stream", stream)
    expect(result.code).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines[0]).toMatch(/^STREAM\s+MESSAGES\s+BYTES\s+FIRST SEQ\s+LAST SEQ\s+CONSUMERS$/)
    expect(lines[1]).toMatch(new RegExp(`^${stream}\\s+10\\s+[\\d.]+ (B|KiB)\\s+1\\s+10\\s+2$`))
    expect(lines).toContainEqual(expect.stringMatching(/^STREAM\/CONSUMER\s+PENDING\s+ACK PENDING\s+REDELIVERED\s+WAITING PULLS\s+LAG\s+LAST ACTIVE$/))
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${stream}/worker\\s+6\\s+2\\s+1\\s+0\\s+8\\s+\\d+s ago$`)))
  })

  it("--fail-on-lag exits 6 naming the consumers over the limit, 0 at or under it", async () => {
    const { stream } = await backlog()
    const over = await runInProcess("status", "--url", server.url, "--stream", stream, "--fail-on-lag", "8")
    expect(over.code).toBe(6)
    expect(over.stderr).toBe(`conveyor: lag above 8: ${stream}/idle 10`)
    const under = await runInProcess("status", "--url", server.url, "--stream", stream, "--fail-on-lag", "10")
    expect(under.code).toBe(0)
  })

  it("an unknown stream is exit code 5 with one line", async () => {
    const result = await runInProcess("status", "--url", server.url, "--stream", "NO_SUCH_STREAM")
    expect(result).toMatchObject({ code: 5, stderr: "conveyor: unknown stream NO_SUCH_STREAM" })
  })

  it("--watch refreshes until interrupted, then exits 130", async () => {
    const { stream } = await backlog()
    const child = spawnCli(["status", "--watch", "--interval", "1", "--url", server.url, "--stream", stream])
    let stdout = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    try {
      await eventually(() => (stdout.match(/^--- /gm) ?? []).length >= 2, 60_000, "two refreshes")
      expect(stdout.match(new RegExp(`^${stream}/worker\\s+6\\s+2`, "gm"))!.length).toBeGreaterThanOrEqual(2)
      process.kill(child.pid!, "SIGINT")
      expect(await exited).toBe(130)
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL")
    }
  })
})
