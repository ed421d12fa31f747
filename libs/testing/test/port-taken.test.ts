import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { freePort, retryWhilePortTaken } from "../src/index.js"

// A port found free and then taken before the server binds it: the start is tried again, on a port
// found free again; any other failure is not.
describe("retryWhilePortTaken", () => {
  it("starts nats-server again on another port when the first one it was given is taken", async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const takenPort = (taken.address() as { port: number }).port
    const tried: Array<number> = []
    try {
      const port = await retryWhilePortTaken(async () => {
        const port = tried.length === 0 ? takenPort : await freePort()
        tried.push(port)
        const child = spawn(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] })
        let output = ""
        child.stderr!.on("data", (c: Buffer) => (output += c.toString()))
        return await new Promise<number>((resolve, reject) => {
          child.stderr!.on("data", () => {
            if (output.includes("Server is ready")) {
              child.kill("SIGKILL")
              resolve(port)
            }
          })
          child.once("exit", () => reject(new Error(output)))
        })
      })
      expect(tried[0]).toBe(takenPort)
      expect(tried.length).toBe(2)
      expect(port).toBe(tried[1])
    } finally {
      taken.close()
    }
  })

  it("throws any other failure at once, and a taken port after the last attempt", async () => {
    let calls = 0
    await expect(retryWhilePortTaken(async () => {
      calls++
      throw new Error("no such binary")
    })).rejects.toThrow("no such binary")
    expect(calls).toBe(1)
    calls = 0
    await expect(retryWhilePortTaken(async () => {
      calls++
      throw new Error("bind: Address already in use")
    })).rejects.toThrow("Address already in use")
    expect(calls).toBe(5)
  })
})
