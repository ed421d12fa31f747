import { uniqueName, useNatsServer } from "@conveyor/testing/vitest"
import { StreamNames } from "@conveyor/domain"
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream"
import { headers as natsHeaders } from "@nats-io/nats-core"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Client, OPERATOR, startConsole, VIEWER } from "./support.js"

// The console over HTTP, without a browser: login, roles, CSRF, escaping, pagination.
const server = useNatsServer()
const DLQ = uniqueName("DLQ_HTTP")
const prefix = DLQ.toLowerCase()
let nc: NatsConnection
let console_: Awaited<ReturnType<typeof startConsole>>

const SCRIPT = `<script>window.__pwned = true</script>`

const deadLetter = async (n: number, payload: string, error = "OutOfStock", consumer = "inventory") => {
  const h = natsHeaders()
  h.set("Conveyor-Error-Tag", error)
  h.set("Conveyor-Error-Message", `failed <img src=x onerror="window.__pwned=true"> #${n}`)
  h.set("Conveyor-Dead-Letter-Reason", "permanent")
  h.set("Conveyor-Attempts", "1")
  h.set("Conveyor-Original-Subject", `orders.commands.reserve-stock`)
  h.set("Conveyor-Original-Stream", "ORDER_COMMANDS")
  h.set("Conveyor-Original-Sequence", String(n))
  h.set("Conveyor-Original-Message-Id", `m-${n}`)
  h.set("Conveyor-Consumer", consumer)
  h.set("Conveyor-Dead-Lettered-At", new Date(Date.UTC(2026, 0, 1) + n * 1_000).toISOString())
  h.set("X-Evil", SCRIPT)
  await jetstream(nc).publish(`${prefix}.ORDER_COMMANDS.${consumer}`, payload, { headers: h })
}

beforeAll(async () => {
  nc = await connect({ servers: server.url })
  await (await jetstreamManager(nc)).streams.add({ name: DLQ, subjects: [`${prefix}.>`] })
  await deadLetter(1, JSON.stringify({ type: "ReserveStock", note: SCRIPT }))
  console_ = await startConsole(server.url, { CONSOLE_DLQ_STREAM: DLQ })
})
afterAll(async () => {
  await console_?.close()
  await nc?.close()
})

describe("console over HTTP", () => {
  it("sends anyone not logged in to the login page, and refuses their posts", async () => {
    const anonymous = new Client(console_.base)
    const home = await anonymous.get("/dead-letters")
    expect(home.status).toBe(303)
    expect(home.headers.get("location")).toBe("/login?next=%2Fdead-letters")
    expect((await anonymous.get("/fragments/overview")).status).toBe(401)
    const login = await anonymous.get("/login")
    expect(login.headers.get("set-cookie")).toMatch(/HttpOnly; SameSite=Strict/)
    expect((await anonymous.post("/dead-letters/preview", { csrf: Client.csrfOf(login.text), action: "replay", seq: "1" })).status).toBe(401)
  })

  it("refuses a wrong password and never puts a password in a page", async () => {
    const c = new Client(console_.base)
    const page = await c.get("/login")
    const failed = await c.post("/login", { csrf: Client.csrfOf(page.text), user: "operator", password: "nope-nope-nope" })
    expect(failed.headers.get("location")).toMatch(/^\/login\?failed/)
    await c.login(OPERATOR)
    for (const path of ["/", "/dead-letters", "/dead-letters/1", "/topology", "/workflows"]) {
      const text = (await c.get(path)).text
      expect(text).not.toContain(OPERATOR.password)
      expect(text).not.toContain(VIEWER.password)
    }
  })

  it("escapes payloads, headers and errors from messages", async () => {
    const c = new Client(console_.base)
    await c.login(VIEWER)
    const page = await c.get("/dead-letters/1")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'")
    expect(page.text).not.toContain("<script>window")
    expect(page.text).not.toContain("<img src=x")
    expect(page.text).toContain("&lt;script&gt;window.__pwned = true&lt;/script&gt;")
    expect(page.text).toContain("&lt;img src=x onerror=&quot;window.__pwned=true&quot;&gt;")
    const list = await c.get("/dead-letters")
    expect(list.text).not.toContain("<img src=x")
  })

  it("refuses actions to a read-only user (403) and shows them no action forms", async () => {
    const c = new Client(console_.base)
    await c.login(VIEWER)
    const page = await c.get("/dead-letters")
    expect(page.text).not.toContain("Replay selected")
    const refused = await c.post("/dead-letters/preview", { csrf: Client.csrfOf(page.text), action: "replay", seq: "1" })
    expect(refused.status).toBe(403)
    expect(refused.text).toContain("Only an operator")
  })

  it("refuses an operator's action without the session's CSRF token or from another origin (403)", async () => {
    const c = new Client(console_.base)
    await c.login(OPERATOR)
    const csrf = Client.csrfOf((await c.get("/dead-letters")).text)
    expect((await c.post("/dead-letters/preview", { action: "replay", seq: "1" })).status).toBe(403)
    expect((await c.post("/dead-letters/preview", { csrf: "forged", action: "replay", seq: "1" })).status).toBe(403)
    // Another session's token is not this session's.
    const other = new Client(console_.base)
    await other.login(OPERATOR)
    const otherCsrf = Client.csrfOf((await other.get("/dead-letters")).text)
    expect((await c.post("/dead-letters/preview", { csrf: otherCsrf, action: "replay", seq: "1" })).status).toBe(403)
    expect((await c.post("/dead-letters/preview", { csrf, action: "replay", seq: "1" }, { origin: "http://evil.example" })).status).toBe(403)
    const ok = await c.post("/dead-letters/preview", { csrf, action: "replay", seq: "1" })
    expect(ok.status).toBe(303)
    expect(ok.headers.get("location")).toMatch(/^\/jobs\//)
  })

  it("marks a letter that failed again after a replay", async () => {
    const h = natsHeaders()
    h.set("Conveyor-Error-Tag", "OutOfStock")
    h.set("Conveyor-Original-Subject", "replay.ORDER_COMMANDS.inventory")
    h.set("Conveyor-Original-Stream", "ORDER_COMMANDS")
    h.set("Conveyor-Consumer", "inventory")
    h.set("Conveyor-Replay-Of", "m-original")
    const ack = await jetstream(nc).publish(`${prefix}.ORDER_COMMANDS.inventory`, "{}", { headers: h })
    const c = new Client(console_.base)
    await c.login(VIEWER)
    expect((await c.get("/dead-letters")).text).toMatch(new RegExp(`data-seq="${ack.seq}">[\\s\\S]*?failed again after replay`))
    expect((await c.get(`/dead-letters/${ack.seq}`)).text).toContain("Failed again after a replay of <code>m-original</code>")
    expect((await c.get("/dead-letters/1")).text).not.toContain("Failed again after a replay")
  })

  it("shows the topology declared against the server, drift highlighted", async () => {
    // Declared with file storage: a memory stream of that name is drift only an operator can fix.
    await (await jetstreamManager(nc)).streams.add({ name: StreamNames.events, subjects: ["orders.events.>"], storage: StorageType.Memory })
    const c = new Client(console_.base)
    await c.login(VIEWER)
    const page = (await c.get("/topology")).text
    expect(page).toMatch(new RegExp(`<tr class="drift" data-resource="stream ${StreamNames.events}"><td>stream ${StreamNames.events}</td><td>drift \\(needs an operator\\)</td><td>storage</td><td><code>&quot;memory&quot;</code></td><td><code>&quot;file&quot;</code></td>`))
    expect(page).toMatch(new RegExp(`data-resource="stream ${StreamNames.commands}"><td>stream ${StreamNames.commands}</td><td>missing</td>`))
    expect(page).toContain(`<tr class="update"><td>stream ${DLQ}</td><td>on the server, not declared</td>`)
  })

  it("pages 10,000 dead letters on the server: groups count all, a page holds 50", async () => {
    const js = jetstream(nc)
    const pending: Array<Promise<unknown>> = []
    for (let n = 2; n <= 10_001; n++) {
      const h = natsHeaders()
      h.set("Conveyor-Error-Tag", n % 2 === 0 ? "OutOfStock" : "Declined")
      h.set("Conveyor-Error-Message", `bulk ${n}`)
      h.set("Conveyor-Original-Subject", n % 2 === 0 ? "orders.commands.reserve-stock" : "orders.commands.capture-payment")
      h.set("Conveyor-Original-Stream", "ORDER_COMMANDS")
      h.set("Conveyor-Consumer", n % 2 === 0 ? "inventory" : "payments")
      pending.push(js.publish(`${prefix}.ORDER_COMMANDS.${n % 2 === 0 ? "inventory" : "payments"}`, `{"n":${n}}`, { headers: h }))
      if (pending.length === 500) await Promise.all(pending.splice(0))
    }
    await Promise.all(pending)
    const c = new Client(console_.base)
    await c.login(VIEWER)
    const page = await c.get("/dead-letters")
    // 10,000 here, and the two letters above.
    expect(page.text).toContain("Page 1 of 201 (10002 matching)")
    expect(page.text.match(/<tr data-seq=/g)?.length).toBe(50)
    expect(page.text).toMatch(/data-group="ORDER_COMMANDS\/inventory OutOfStock">[\s\S]*?<td class="num">5002<\/td>/)
    expect(page.text).toMatch(/data-group="ORDER_COMMANDS\/payments Declined">[\s\S]*?<td class="num">5000<\/td>/)
    const filtered = await c.get("/dead-letters?subject=orders.commands.capture-payment&error=bulk%2010001&page=1")
    expect(filtered.text).toContain("(1 matching)")
    const last = await c.get("/dead-letters?page=201")
    expect(last.text.match(/<tr data-seq=/g)?.length).toBe(2)
    expect(last.text).toContain('data-seq="1"')
  }, 120_000)

  it("purges only after a preview and a confirmation, with a result per letter", async () => {
    const c = new Client(console_.base)
    await c.login(OPERATOR)
    const csrf = Client.csrfOf((await c.get("/dead-letters/1")).text)
    const finished = async (location: string) => {
      for (;;) {
        const page = await c.get(location.replace("/jobs/", "/fragments/jobs/"))
        if (page.text.includes('data-finished="true"')) return page.text
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    const preview = await c.post("/dead-letters/preview", { csrf, action: "purge", seq: "1" })
    const previewed = await finished(preview.headers.get("location")!)
    expect(previewed).toContain('data-seq="1" data-result="would-purge"')
    // The dry run removed nothing.
    expect((await c.get("/dead-letters/1")).status).toBe(200)
    const id = /action="\/jobs\/([^/]+)\/confirm"/.exec(previewed)![1]!
    expect((await c.post(`/jobs/${id}/confirm`, {})).status).toBe(403)
    const run = await c.post(`/jobs/${id}/confirm`, { csrf })
    const done = await finished(run.headers.get("location")!)
    expect(done).toContain('data-seq="1" data-result="purged"')
    expect((await c.get("/dead-letters/1")).status).toBe(404)
    expect((await (await jetstreamManager(nc)).streams.getMessage(DLQ, { seq: 1 }))).toBeNull()
  })
})
