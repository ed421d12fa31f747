// `--cluster`: the order workflow on three nodes at replicas 3 keeps running while the node leading
// the events stream and the workflow bucket is SIGKILLed and while it restarts, and the stores
// reconcile afterwards: every order finished once, captured once, stock whole, no dead letter extra.
import { describe, expect, it } from "@effect/vitest"
import { countIn, runDemoProcess } from "../src/demo-process.js"

describe("demo --cluster", () => {
  it("kills and restarts the leaders' node mid-run and still reconciles", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_ORDERS: "90" }
    delete env["NATS_URL"]
    const { code, stdout, stderr } = await runDemoProcess(["--cluster", "--failure-rate", "0.2"], env, 170_000)
    const killed = /killing node (n[123]) \(pid \d+, leader of ORDER_EVENTS and KV_order-workflows\) with SIGKILL/.exec(stdout)
    expect(killed, stdout).not.toBeNull()
    expect(stdout).toMatch(new RegExp(`restarting node ${killed![1]} on its store`))
    expect(stdout).toMatch(new RegExp(`node ${killed![1]} is back in the cluster`))
    expect(countIn(stdout, "orders")).toBe(90)
    expect(countIn(stdout, "not finished")).toBe(0)
    expect(countIn(stdout, "completed") + countIn(stdout, "compensated") + countIn(stdout, "rejected")).toBe(90)
    expect(countIn(stdout, "dead-lettered")).toBe(6)
    expect(stdout, stderr).toContain("reconciled: every order finished")
    expect(code).toBe(0)
  }, 180_000)
})
