import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

describe("demo", () => {
  it("starts its own nats-server, moves the messages and stops it", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_MESSAGES: "200" }
    delete env["NATS_URL"]
    const { stdout } = await promisify(execFile)("npx", ["tsx", "--conditions=@conveyor/source", "src/main.ts"], { env, cwd: new URL("..", import.meta.url).pathname })
    expect(stdout).toMatch(/started nats-server on nats:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toMatch(/published and processed 200 messages/)
  }, 60_000)
})
