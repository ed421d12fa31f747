import { eventually } from "@conveyor/testing"
import { DeadLetterHeaders, defineHandler, makeRetryPolicy } from "@conveyor/messaging"
import { deadLetterTopology, ensureTopology, makeNatsConfig, NatsConnection, NatsConnectionLive, runJetStreamConsumer } from "@conveyor/nats"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { defineTopology, mergeTopologies } from "@conveyor/topology"
import { Duration, Effect, Exit, Logger, LogLevel, ManagedRuntime, Schema, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { runChild, runInProcess, runOnTerminal } from "./support.js"

const server = useNatsServer()
let runtime: ManagedRuntime.ManagedRuntime<NatsConnection, unknown>
beforeAll(async () => {
  runtime = ManagedRuntime.make(NatsConnectionLive(makeNatsConfig({ servers: [server.url], name: "dlq-test", connectTimeout: Duration.seconds(5) })))
  await runtime.runPromise(NatsConnection)
})
afterAll(async () => {
  await runtime?.dispose()
})

const Job = Schema.Struct({ id: Schema.String })
class Broken extends Schema.TaggedError<Broken>()("Broken", { id: Schema.String }) {}

/**
 * A worker whose handler fails permanently while `broken` is set, so what it gets is dead-lettered
 * into a dead-letter stream of this test's own; once fixed it records what it processes.
 */
const scenario = async () => {
  const stream = uniqueName("WORK")
  const prefix = stream.toLowerCase()
  const dlq = { stream: uniqueName("DLQ"), subjectPrefix: uniqueName("dlq").toLowerCase() }
  const topology = mergeTopologies(
    defineTopology({ streams: [{ name: stream, subjects: [`${prefix}.>`] }], consumers: [{ stream, durable: "worker", ackWaitMs: 5_000 }] }),
    deadLetterTopology(dlq)
  )
  await runtime.runPromise(ensureTopology(topology).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
  const state = { broken: true, processed: [] as Array<{ subject: string; id: string; replayOf: string | undefined }> }
  const handler = defineHandler({
    schema: Job,
    handle: (job, ctx) =>
      state.broken
        ? Effect.fail(new Broken({ id: job.id }))
        : Effect.sync(() => void state.processed.push({ subject: ctx.delivery.subject, id: job.id, replayOf: ctx.delivery.headers[DeadLetterHeaders.replayOf] })),
    errors: { Broken: "dead-letter" }
  })
  const scope = await Effect.runPromise(Scope.make())
  await runtime.runPromise(
    Scope.extend(runJetStreamConsumer(handler, { consumer: topology.consumers[0]!, retry: makeRetryPolicy({ maxAttempts: 2 }), deadLetters: dlq, concurrency: 1 }), scope)
  )
  const client = await runtime.runPromise(NatsConnection)
  for (const [sub, id] of [["a", "a1"], ["b", "b1"], ["a", "a2"], ["c", "c1"], ["b", "b2"]] as const) {
    await client.js.publish(`${prefix}.${sub}`, JSON.stringify({ id }), { msgID: id + stream })
  }
  const count = async (name: string) => (await client.jsm.streams.info(name)).state.messages
  await eventually(async () => (await count(dlq.stream)) === 5, 15_000, "5 dead letters")
  const url = ["--url", server.url, "--dlq-stream", dlq.stream]
  return { stream, prefix, dlq, state, client, url, count, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

type Letter = { sequence: number; originalSubject: string; errorTag: string; payload: string; headers: Record<string, string> }

describe("conveyor dlq", () => {
  it("lists by original subject, error and time; shows headers and the decoded payload", async () => {
    const s = await scenario()
    try {
      const listed = await runInProcess("dlq", "list", ...s.url, "--subject", `${s.prefix}.a`, "--json")
      expect(listed.code).toBe(0)
      const letters = JSON.parse(listed.stdout) as Array<Letter>
      expect(letters.map((l) => JSON.parse(l.payload).id)).toEqual(["a1", "a2"])
      expect(letters.every((l) => l.errorTag === "Broken")).toBe(true)

      expect(JSON.parse((await runInProcess("dlq", "list", ...s.url, "--error", "Broken", "--since", "1h", "--json")).stdout)).toHaveLength(5)
      expect(JSON.parse((await runInProcess("dlq", "list", ...s.url, "--until", "1h", "--json")).stdout)).toHaveLength(0)
      expect(JSON.parse((await runInProcess("dlq", "list", ...s.url, "--error", "Other", "--json")).stdout)).toHaveLength(0)

      const table = await runInProcess("dlq", "list", ...s.url, "--subject", `${s.prefix}.>`)
      expect(table.stdout).toMatch(/^\s*SEQ\s+DEAD-LETTERED\s+ORIGINAL SUBJECT\s+CONSUMER\s+ATTEMPTS\s+REASON\s+ERROR/)
      expect(table.stdout).toContain("5 dead letter(s)")
      const limited = await runInProcess("dlq", "list", ...s.url, "--limit", "2")
      expect(limited.stdout).toContain("2 dead letter(s)\n(the first 2; more may match: raise --limit or narrow the filter)")

      const shown = await runInProcess("dlq", "show", String(letters[1]!.sequence), ...s.url)
      expect(shown.code).toBe(0)
      expect(shown.stdout).toContain(`original    ${s.prefix}.a  (stream ${s.stream} seq 3, consumer worker`)
      expect(shown.stdout).toContain(`  ${DeadLetterHeaders.errorTag}: Broken`)
      expect(shown.stdout).toContain(`  ${DeadLetterHeaders.reason}: permanent`)
      expect(shown.stdout).toContain('payload (11 bytes, JSON)\n{\n  "id": "a2"\n}')

      expect(await runInProcess("dlq", "show", "9999", ...s.url)).toMatchObject({ code: 5, stderr: `conveyor: no dead letter with sequence 9999 in ${s.dlq.stream}` })
    } finally {
      await s.stop()
    }
  })

  it("a dry run changes nothing", async () => {
    const s = await scenario()
    try {
      const before = await s.client.jsm.streams.info(s.stream)
      const result = await runInProcess("dlq", "replay", "--all", "--dry-run", ...s.url)
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("dry run: 5 dead letter(s) would be replayed to their original subjects; nothing changed")
      const purge = await runInProcess("dlq", "purge", "--all", "--dry-run", ...s.url)
      expect(purge.stdout).toContain("dry run: 5 dead letter(s) would be removed; nothing changed")
      expect(await s.count(s.dlq.stream)).toBe(5)
      expect((await s.client.jsm.streams.info(s.stream)).state.last_seq).toBe(before.state.last_seq)
      expect(s.state.processed).toEqual([])
    } finally {
      await s.stop()
    }
  })

  it("replays exactly the filtered set; those are processed, the rest stay", async () => {
    const s = await scenario()
    try {
      s.state.broken = false
      const result = await runInProcess("dlq", "replay", "--subject", `${s.prefix}.a`, "--rate", "50", ...s.url)
      expect(result.stderr).toBe("")
      expect(result).toMatchObject({ code: 0, stdout: `replayed 2 of 2, 0 failed (left in ${s.dlq.stream})` })
      await eventually(() => s.state.processed.length >= 2, 15_000, "the replayed messages to be processed")
      expect(s.state.processed.map((p) => p.id).sort()).toEqual(["a1", "a2"])
      expect(s.state.processed.every((p) => p.subject === `${s.prefix}.a` && p.replayOf !== undefined)).toBe(true)
      const left = JSON.parse((await runInProcess("dlq", "list", "--json", ...s.url)).stdout) as Array<Letter>
      expect(left.map((l) => JSON.parse(l.payload).id)).toEqual(["b1", "c1", "b2"])

      // One by sequence.
      const c1 = left[1]!.sequence
      expect((await runInProcess("dlq", "replay", String(c1), ...s.url)).code).toBe(0)
      await eventually(() => s.state.processed.length >= 3, 15_000, "c1 to be processed")
      expect(s.state.processed.map((p) => p.id).sort()).toEqual(["a1", "a2", "c1"])
      expect(await s.count(s.dlq.stream)).toBe(2)
    } finally {
      await s.stop()
    }
  })

  it("a republish that is not acked leaves the dead letter in place and exits 9", async () => {
    const s = await scenario()
    try {
      await s.stop()
      await s.client.jsm.streams.delete(s.stream) // nowhere to republish to
      const result = await runInProcess("dlq", "replay", "--subject", `${s.prefix}.b`, ...s.url)
      expect(result.code).toBe(9)
      expect(result.stdout).toContain(`replayed 0 of 2, 2 failed (left in ${s.dlq.stream})`)
      expect(result.stderr).toBe(`conveyor: 2 of 2 dead letter(s) were not replayed and stay in ${s.dlq.stream}`)
      expect(await s.count(s.dlq.stream)).toBe(5)
    } finally {
      await s.stop()
    }
  })

  it("purge refuses without --yes when not interactive, removes only what is selected with it", async () => {
    const s = await scenario()
    try {
      const refused = await runInProcess("dlq", "purge", "--all", ...s.url)
      expect(refused).toMatchObject({ code: 8, stderr: "conveyor: refusing to purge 5 dead letter(s) without --yes in a non-interactive shell" })
      expect(await s.count(s.dlq.stream)).toBe(5)

      const purged = await runInProcess("dlq", "purge", "--subject", `${s.prefix}.b`, "--yes", ...s.url)
      expect(purged).toMatchObject({ code: 0, stdout: `purged 2 dead letter(s) from ${s.dlq.stream}` })
      const left = JSON.parse((await runInProcess("dlq", "list", "--json", ...s.url)).stdout) as Array<Letter>
      expect(left.map((l) => JSON.parse(l.payload).id)).toEqual(["a1", "a2", "c1"])
    } finally {
      await s.stop()
    }
  })

  it("as a child process with stdin closed, purge without --yes exits 8 and removes nothing", async () => {
    const s = await scenario()
    try {
      const r = await runChild(["dlq", "purge", "--all", ...s.url])
      expect(r.code).toBe(8)
      expect(r.stderr.trimEnd()).toBe("conveyor: refusing to purge 5 dead letter(s) without --yes in a non-interactive shell")
      expect(await s.count(s.dlq.stream)).toBe(5)
    } finally {
      await s.stop()
    }
  })

  it("on a terminal, purge asks first: no keeps everything, yes removes what it listed", async () => {
    const s = await scenario()
    try {
      const prompt = `Remove these 2 dead letter(s) from ${s.dlq.stream} for good?`
      const no = await runOnTerminal(["dlq", "purge", "--subject", `${s.prefix}.a`, ...s.url], prompt, "n")
      expect(no.code).toBe(8)
      expect(no.stdout).toContain("conveyor: purge cancelled; nothing removed")
      expect(await s.count(s.dlq.stream)).toBe(5)
      const yes = await runOnTerminal(["dlq", "purge", "--subject", `${s.prefix}.a`, ...s.url], prompt, "y")
      expect(yes.code).toBe(0)
      expect(yes.stdout).toContain(`purged 2 dead letter(s) from ${s.dlq.stream}`)
      expect(await s.count(s.dlq.stream)).toBe(3)
    } finally {
      await s.stop()
    }
  })

  it("refuses to act on nothing in particular, and an unknown dead-letter stream is exit 5", async () => {
    const noScope = await runInProcess("dlq", "replay", "--url", server.url, "--dlq-stream", "NOPE")
    expect(noScope).toMatchObject({ code: 5, stderr: "conveyor: unknown stream NOPE" })
    const s = await scenario()
    try {
      const bare = await runInProcess("dlq", "replay", ...s.url)
      expect(bare).toMatchObject({ code: 2, stderr: "conveyor: say what to replay: sequence numbers, a filter (--subject, --error, --since, ...) or --all" })
      expect(await s.count(s.dlq.stream)).toBe(5)
    } finally {
      await s.stop()
    }
  })
})
