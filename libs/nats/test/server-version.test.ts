import { useNatsServer } from "@conveyor/testing/vitest"
import { Duration, Effect } from "effect"
import { execFileSync } from "node:child_process"
import { createServer, type Server } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { makeNatsClient, makeNatsConfig, MINIMUM_SERVER_VERSION } from "../src/index.js"
import { isAtLeast } from "../src/server-version.js"

const server = useNatsServer()

const connectTo = (url: string) =>
  Effect.runPromise(Effect.either(Effect.scoped(Effect.map(makeNatsClient(makeNatsConfig({ servers: [url], connectTimeout: Duration.seconds(2) })), ({ client }) => client.serverVersion))))

/**
 * Speaks just enough of the NATS protocol to complete a client's handshake as a server reporting
 * `version`: where no binary of an unsupported line is at hand, the version check still meets a
 * real client's handshake.
 */
const fakeServer = (version: string) =>
  new Promise<{ url: string; server: Server }>((resolve) => {
    const server = createServer((socket) => {
      socket.write(`INFO ${JSON.stringify({ server_id: "FAKE", version, proto: 1, headers: true, max_payload: 1048576, jetstream: true })}\r\n`)
      socket.on("data", (chunk) => {
        if (chunk.toString().includes("PING")) socket.write("PONG\r\n")
      })
      socket.on("error", () => undefined)
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({ url: `nats://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`, server })
    })
  })

describe("server version", () => {
  it("compares versions by number, prefixes and pre-release suffixes allowed", () => {
    expect(isAtLeast("2.10.0", MINIMUM_SERVER_VERSION)).toBe(true)
    expect(isAtLeast("v2.15.1", MINIMUM_SERVER_VERSION)).toBe(true)
    expect(isAtLeast("2.9.10", MINIMUM_SERVER_VERSION)).toBe(false)
    expect(isAtLeast("2.10.0-RC.1", "2.10.0")).toBe(true)
    expect(isAtLeast("10.0.0", "2.10.0")).toBe(true)
    expect(isAtLeast("unknown", "2.10.0")).toBe(false)
  })

  it("reads the version of the server it connected to", async () => {
    const result = await connectTo(server.url)
    expect(result._tag).toBe("Right")
    const binary = process.env["NATS_SERVER_BIN"] ?? "nats-server"
    if (result._tag === "Right" && server.kind === "local") {
      expect(execFileSync(binary, ["--version"], { encoding: "utf8" })).toContain(`v${result.right}`)
    }
  })

  it("refuses a server older than the minimum with one line naming its version and the URL", async () => {
    const fake = await fakeServer("2.9.10")
    try {
      const result = await connectTo(fake.url)
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left._tag).toBe("UnsupportedServer")
        expect(result.left.message).toBe(
          `nats-server 2.9.10 at ${fake.url} is too old: Conveyor needs ${MINIMUM_SERVER_VERSION} or newer (consumers with several filter subjects)`
        )
      }
    } finally {
      fake.server.close()
    }
  })
})
