import { jetstreamManager } from "@nats-io/jetstream"
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node"
import { LocalNatsProcess } from "@conveyor/testing"
import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { orderTopology } from "@conveyor/domain"
import type { TopologyDiff } from "../src/index.js"
import { runChild, runInProcess } from "./support.js"

const server = useNatsServer()
/** Streams, durables and buckets the order topology declares. */
const declared = orderTopology.streams.length + orderTopology.consumers.length + orderTopology.buckets.length
let nc: NatsConnection
beforeAll(async () => {
  nc = await connect({ servers: server.url })
})
afterAll(async () => {
  await nc?.close()
})

const dir = mkdtempSync(join(tmpdir(), "conveyor-ctl-"))
const topologyFile = (content: unknown) => {
  const file = join(dir, `${uniqueName("t")}.json`)
  writeFileSync(file, JSON.stringify(content))
  return file
}

describe("conveyor topology", () => {
  it("diffs the order topology against an empty server, applies it, then reports it in sync", async () => {
    const url = ["--url", server.url]
    const before = await runInProcess("topology", "diff", ...url, "--json")
    expect(before.code).toBe(0)
    const plan = JSON.parse(before.stdout) as TopologyDiff
    expect(plan.summary).toEqual({ create: declared, update: 0, drift: 0, inSync: 0 })
    expect(plan.diffs.map((d) => `${d.plan.kind} ${d.plan.name}`)).toContain("stream DEAD_LETTERS")

    const changed = await runInProcess("topology", "diff", ...url, "--fail-on-change")
    expect(changed.code).toBe(6)
    expect(changed.stdout).toContain("+ stream ORDER_EVENTS: missing, apply creates it")
    expect(changed.stderr).toBe(`conveyor: topology differs: ${declared} to create, 0 to update, 0 drifted`)

    const applied = await runInProcess("topology", "apply", ...url)
    expect(applied.code).toBe(0)
    expect(applied.stdout).toContain(`applied: ${declared} created, 0 updated`)

    const after = await runInProcess("topology", "diff", ...url, "--fail-on-change")
    expect(after.code).toBe(0)
    expect(after.stdout).toContain("= consumer ORDER_EVENTS/orchestrator: in sync")
    expect(after.stdout).toContain(`0 to create, 0 to update, 0 drifted, ${declared} in sync, 0 undeclared`)
  })

  it("shows an updatable change field by field and apply fixes it", async () => {
    const stream = uniqueName("TOPO")
    const file = topologyFile({ streams: [{ name: stream, subjects: [`${stream.toLowerCase()}.>`] }], consumers: [{ stream, durable: "w", ackWaitMs: 10_000 }] })
    const args = ["--url", server.url, "--no-default", "--file", file]
    expect((await runInProcess("topology", "apply", ...args)).code).toBe(0)
    const jsm = await jetstreamManager(nc)
    await jsm.consumers.update(stream, "w", { ack_wait: nanos(20_000) })

    const diff = await runInProcess("topology", "diff", ...args)
    expect(diff.stdout).toContain(`~ consumer ${stream}/w: apply updates 1 field(s)\n    ackWaitMs: server 20000 -> declared 10000`)
    expect((await runInProcess("topology", "apply", ...args)).code).toBe(0)
    expect((await jsm.consumers.info(stream, "w")).config.ack_wait).toBe(nanos(10_000))
  })

  it("shows the order durables deployed before they took only their own events as updates of their filters, and apply makes them so", async () => {
    const url = ["--url", server.url]
    expect((await runInProcess("topology", "apply", ...url)).code).toBe(0)
    const jsm = await jetstreamManager(nc)
    // As the previous version deployed the notifier: every order event, plus its replay subject.
    const replay = orderTopology.consumers.find((c) => c.durable === "notifier")!.replaySubject!
    await jsm.consumers.update("ORDER_EVENTS", "notifier", { filter_subjects: ["orders.events.>", replay] })
    const diff = await runInProcess("topology", "diff", ...url)
    expect(diff.stdout).toContain(
      `~ consumer ORDER_EVENTS/notifier: apply updates 1 field(s)\n    filterSubjects: server ["orders.events.>"] -> declared ["orders.events.order-completed","orders.events.order-cancelled"]`
    )
    expect(diff.stdout).not.toContain("! consumer")
    expect((await runInProcess("topology", "apply", ...url)).code).toBe(0)
    expect((await jsm.consumers.info("ORDER_EVENTS", "notifier")).config.filter_subjects)
      .toEqual(["orders.events.order-completed", "orders.events.order-cancelled", replay])
  })

  it("lists streams nobody declares", async () => {
    const stray = uniqueName("STRAY")
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: stray, subjects: [`${stray.toLowerCase()}.>`] })
    const diff = await runInProcess("topology", "diff", "--url", server.url)
    expect(diff.stdout).toContain(`? stream ${stray}: on the server, not declared`)
  })

  it("apply reports drift it cannot fix with exit code 7, after applying the rest", async () => {
    const stream = uniqueName("DRIFT")
    const subjects = [`${stream.toLowerCase()}.>`]
    expect((await runInProcess("topology", "apply", "--url", server.url, "--no-default", "--file", topologyFile({ streams: [{ name: stream, subjects }] }))).code).toBe(0)
    const memory = topologyFile({ streams: [{ name: stream, subjects, storage: "memory", maxMsgs: 5 }] })
    const result = await runInProcess("topology", "apply", "--url", server.url, "--no-default", "--file", memory)
    expect(result.code).toBe(7)
    expect(result.stdout).toContain(`! stream ${stream}: drift apply cannot fix`)
    expect(result.stderr).toBe(`conveyor: topology drift: stream ${stream}: storage declared "memory" but is "file"`)
    const jsm = await jetstreamManager(nc)
    expect((await jsm.streams.info(stream)).config.max_msgs).toBe(5)
  })

  it("a bad topology file is a usage error (exit 2) naming the file", async () => {
    const file = topologyFile({ streams: [{ name: "bad name", subjects: ["x"] }] })
    const result = await runInProcess("topology", "diff", "--url", server.url, "--file", file)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(new RegExp(`^conveyor: topology file ${file}: .*name`))
    expect(result.stderr.split("\n")).toHaveLength(1)
  })

  it("applies with a least-privilege provisioning user that may not list stream names", async () => {
    const config = join(dir, "prov.conf")
    writeFileSync(config, `authorization {
  users = [{ user: "prov", password: "p", permissions: {
    publish: { allow: ["$JS.API.INFO", "$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.INFO.>", "$JS.API.CONSUMER.CREATE.>", "$JS.API.CONSUMER.DURABLE.CREATE.>", "$JS.API.CONSUMER.INFO.>"] },
    subscribe: { allow: ["_INBOX.>"] }
  } }]
}
`)
    const limited = await LocalNatsProcess.start({ args: ["-c", config] })
    try {
      const file = topologyFile({ streams: [{ name: "LP", subjects: ["lp.>"] }], consumers: [{ stream: "LP", durable: "w" }], buckets: [{ name: "lp-kv" }] })
      const { NATS_USER: _u, NATS_PASSWORD: _p, ...env } = process.env
      process.env = { ...env, NATS_USER: "prov", NATS_PASSWORD: "p" }
      try {
        const applied = await runInProcess("topology", "apply", "--url", limited.url, "--no-default", "--file", file)
        expect(applied.stderr).toBe("")
        expect(applied.code).toBe(0)
        expect(applied.stdout).toContain("? undeclared streams not checked: the server would not list stream names")
        expect(applied.stdout).toContain("applied: 3 created, 0 updated")
        const again = await runInProcess("topology", "diff", "--url", limited.url, "--no-default", "--file", file, "--fail-on-change")
        expect(again.code).toBe(0)
        // As a process: the server's permission error is logged on stderr, stdout stays pure JSON.
        const child = await runChild(["topology", "diff", "--json", "--url", limited.url, "--no-default", "--file", file], { NATS_USER: "prov", NATS_PASSWORD: "p" })
        expect(child.code).toBe(0)
        expect((JSON.parse(child.stdout) as TopologyDiff).summary).toEqual({ create: 0, update: 0, drift: 0, inSync: 3 })
        expect(child.stderr).toMatch(/^conveyor: warn: nats error .*Permissions Violation/m)
      } finally {
        process.env = { ...env, ...(_u !== undefined ? { NATS_USER: _u } : {}), ...(_p !== undefined ? { NATS_PASSWORD: _p } : {}) }
      }
    } finally {
      await limited.stop()
    }
  })
})
