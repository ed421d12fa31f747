import { connect } from "@nats-io/transport-node"
import { jetstreamManager } from "@nats-io/jetstream"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { LocalNatsProcess, startTestNatsServer, type TestNatsServer } from "../src/index.js"

describe("test nats-server", () => {
  const started: Array<TestNatsServer> = []
  afterEach(async () => {
    for (const s of started.splice(0)) await s.stop()
  })

  it("starts a JetStream server that keeps its stream across kill and restart", async () => {
    const server = await startTestNatsServer()
    started.push(server)
    let nc = await connect({ servers: server.url })
    let jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] })
    await (await import("@nats-io/jetstream")).jetstream(nc).publish("keep.a", "x")
    await nc.close()

    await server.kill()
    await expect(connect({ servers: server.url, reconnect: false, timeout: 500 })).rejects.toThrow()
    await server.restart()

    nc = await connect({ servers: server.url })
    jsm = await jetstreamManager(nc)
    const info = await jsm.streams.info("KEEP")
    expect(info.state.messages).toBe(1)
    await nc.close()
  })

  it("reports a clear error when the binary is missing", async () => {
    await expect(LocalNatsProcess.start({ binary: "/nonexistent/nats-server" })).rejects.toThrow(/ENOENT|exited/)
  })

  it("stop removes the store and ends the process", async () => {
    const server = await LocalNatsProcess.start()
    const pid = server.pid
    expect(pid).toBeTypeOf("number")
    await server.stop()
    expect(server.running).toBe(false)
    expect(() => process.kill(pid!, 0)).toThrow()
    const { existsSync } = await import("node:fs")
    expect(existsSync(server.storeDir)).toBe(false)
  })

  it("fails with install instructions instead of skipping when no server can be had", async () => {
    const saved = { ...process.env }
    try {
      delete process.env["NATS_URL"]
      process.env["CONVEYOR_TEST_NATS"] = "local"
      process.env["NATS_SERVER_BIN"] = "/nonexistent/nats-server"
      await expect(startTestNatsServer()).rejects.toThrow(/tools\/ensure-prereqs\.mjs/)
    } finally {
      process.env = saved
    }
  })
})
