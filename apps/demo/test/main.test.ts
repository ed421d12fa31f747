import { eventSubject } from "@conveyor/domain"
import { LocalNatsProcess } from "@conveyor/testing"
import { describe, expect, it } from "@effect/vitest"
import { jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { countIn, runDemoProcess as runDemo } from "../src/demo-process.js"

describe("demo", () => {
  it("starts its own nats-server, drives orders through every app and prints a reconciled table", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_ORDERS: "60" }
    delete env["NATS_URL"]
    const { code, stdout, stderr } = await runDemo(["--failure-rate", "0.3"], env)
    // Node's own environment warnings (e.g. NO_COLOR vs FORCE_COLOR) are not the demo's output.
    expect(stderr.replace(/^\(node:\d+\) Warning:.*\n(\(Use `node --trace-warnings.*\n)?/gm, "")).toBe("")
    expect(stdout).toMatch(/started nats-server on nats:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toMatch(/\| orders\s+\|\s+60 \|/)
    const count = (row: string) => countIn(stdout, row)
    // The mix is decided by index: 5 declines (i % 13 == 5) and 2 stock rejections among 60.
    expect(count("completed")).toBe(53)
    expect(count("compensated")).toBe(5)
    expect(count("rejected")).toBe(2)
    expect(count("dead-lettered")).toBe(6)
    expect(count("de-duplicated")).toBe(4)
    expect(count("not finished")).toBe(0)
    expect(stdout).toMatch(/\| latency p99\s+\|\s+\d+ ms \|/)
    expect(stdout).toMatch(/\| CPU per order\s+\|\s+\d+\.\d ms \|/)
    expect(stdout).toMatch(/\| trace id\s+\| [0-9a-f]{32} \|/)
    expect(stdout).toContain("reconciled: every order finished")
    expect(code).toBe(0)
  }, 120_000)

  it("counts only its own orders' outcomes on a server it shares", async () => {
    const server = await LocalNatsProcess.start()
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: server.url, DEMO_ORDERS: "20" }
      const first = await runDemo(["--failure-rate", "0"], env)
      expect(first.code, first.stdout.slice(-2_000) + first.stderr).toBe(0)
      // Another run's outcome, not yet seen by the notifier's durable: the next demo's notifier gets it.
      const nc = await connect({ servers: server.url })
      await jetstream(nc).publish(eventSubject("OrderCompleted"), JSON.stringify({
        type: "OrderCompleted", version: 1, orderId: "someone-elses-order", paymentId: "p-1", trackingId: "t-1"
      }))
      await nc.close()
      const second = await runDemo(["--failure-rate", "0"], env)
      expect(second.stdout).toContain("reconciled: every order finished")
      expect(second.code, second.stdout.slice(-2_000)).toBe(0)
    } finally {
      await server.stop()
    }
  }, 180_000)

  it("rejects a bad flag with the usage and exit code 2", async () => {
    const { code, stderr } = await runDemo(["--orders", "many"], { ...process.env })
    expect(code).toBe(2)
    expect(stderr).toContain("--orders / DEMO_ORDERS must be an integer")
  }, 60_000)
})
