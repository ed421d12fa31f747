import { startAppProcess } from "@conveyor/testing/app-process"
import { useNatsServer } from "@conveyor/testing/vitest"
import { describe, expect, it } from "vitest"

const server = useNatsServer()

describe("gateway as a process", () => {
  it("becomes ready against NATS_URL, serves health and metrics, and exits cleanly on SIGTERM", async () => {
    const app = await startAppProcess("gateway", { NATS_URL: server.url })
    try {
      await app.waitReady()
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
      expect(await (await fetch(`${app.url}/metrics`)).text()).toContain("service_name=\"gateway\"")
    } finally {
      expect(await app.stop("SIGTERM")).toBe(0)
    }
  }, 90_000)
})
