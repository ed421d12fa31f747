// The denial matrix: every generated user (each app, ctl, provisioning) against every action it
// must not take, each tried on a real nats-server started with the committed auth config. What a
// user must not do is stated here from the domain's access data (what it publishes, consumes and
// stores), not read back from the generated allow lists. nats-auth.test.ts shows that each user
// can still do its whole job; system-with-auth.test.ts runs the apps under these users.
import { inboxPrefixOf, PROVISIONING_USER, topologyStreams, type UserName } from "@conveyor/auth"
import { type AppAccess, appAccess, deadLetterSubject, Durables, idempotencyBucket, orderTopology, StreamNames, subjectMatches } from "@conveyor/domain"
import { ensureTopology, NatsConnection } from "@conveyor/nats"
import type { LocalNatsProcess } from "@conveyor/testing"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { connectUsers, denied, randomPasswords, sampleSubjects, startAuthServer, type UserConnections, users } from "./auth-server.js"

const passwords = randomPasswords()
let server: LocalNatsProcess
let connections: UserConnections

beforeAll(async () => {
  server = await startAuthServer(passwords)
  connections = await connectUsers(server, passwords)
  await Effect.runPromise(ensureTopology(orderTopology).pipe(Effect.provideService(NatsConnection, connections.client(PROVISIONING_USER))))
})

afterAll(async () => {
  await connections?.closeAll()
  await server?.stop()
})

const noAccess: AppAccess = { publish: [], consumes: [], buckets: [], operator: false }
const accessOf = (user: UserName): AppAccess => (user === PROVISIONING_USER ? noAccess : appAccess[user])

/** One forbidden action: a publish (data or a JetStream API request) or a subscription. */
interface Forbidden {
  readonly kind: string
  readonly subject: string
  readonly subscribe?: true
}

const streams = topologyStreams(orderTopology)
const kvStream = (bucket: string) => `KV_${bucket}`
const retiredBuckets = [Durables.inventory, Durables.payments, Durables.shipping].map(idempotencyBucket)

/** Everything `user` must be refused, by the categories of issue 16. */
const forbiddenFor = (user: UserName): ReadonlyArray<Forbidden> => {
  const access = accessOf(user)
  const provisioning = user === PROVISIONING_USER
  const out: Array<Forbidden> = []
  const add = (kind: string, ...subjects: ReadonlyArray<string>) => subjects.forEach((subject) => out.push({ kind, subject }))

  // Another app's subjects, and dead letters of durables it does not own.
  for (const subject of sampleSubjects) if (!access.publish.some((p) => subjectMatches(p, subject))) add("publish another app's subject", subject)

  // Another app's buckets (idempotency records included): no read unless the operator's; no write
  // unless its own writable bucket; no consumer (watch, keys) unless it watches that bucket.
  for (const { name } of orderTopology.buckets) {
    const mine = access.buckets.find((b) => b.bucket === name)
    const stream = kvStream(name)
    if (mine === undefined && !access.operator) {
      add("read another app's bucket", `$JS.API.DIRECT.GET.${stream}.$KV.${name}.some-key`, `$JS.API.DIRECT.GET.${stream}`, `$JS.API.STREAM.MSG.GET.${stream}`)
    }
    if (mine?.access !== "write") add("write another app's bucket", `$KV.${name}.some-key`)
    if (mine?.watch !== true) add("create a consumer on a KV stream", `$JS.API.CONSUMER.CREATE.${stream}`, `$JS.API.CONSUMER.CREATE.${stream}.rogue.$KV.${name}.>`)
  }

  // The workers' former idempotency buckets (each worker's store is its idempotency record now):
  // nobody reads, writes, inspects or creates them, the operator and provisioning included.
  for (const name of retiredBuckets) {
    const stream = kvStream(name)
    add("touch a retired bucket", `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.DIRECT.GET.${stream}`, `$JS.API.STREAM.MSG.GET.${stream}`, `$KV.${name}.some-key`)
  }

  // Consumers on the data streams: only provisioning creates (its declared durables), and only the
  // operator reads the dead letters through an ephemeral consumer of its own.
  for (const stream of streams.filter((s) => !s.startsWith("KV_"))) {
    if (!(access.operator && stream === StreamNames.deadLetters)) add("create a consumer on a stream it does not own", `$JS.API.CONSUMER.CREATE.${stream}`, `$JS.API.CONSUMER.CREATE.${stream}.rogue`)
    add("create a consumer on a stream it does not own", `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.rogue`)
  }

  // Other durables: pull, ack, delete, reconfigure. Nobody deletes a durable, its own included.
  for (const c of orderTopology.consumers) {
    const own = access.consumes.some((o) => o.stream === c.stream && o.durable === c.durable)
    if (!own) add("pull or ack another durable", `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`, `$JS.ACK.${c.stream}.${c.durable}.1.1.1.1.0`)
    if (!provisioning) add("reconfigure a durable", `$JS.API.CONSUMER.CREATE.${c.stream}.${c.durable}`, `$JS.API.CONSUMER.DURABLE.CREATE.${c.stream}.${c.durable}`)
    add("delete a durable", `$JS.API.CONSUMER.DELETE.${c.stream}.${c.durable}`)
  }

  // Stream administration: nobody deletes or purges; only provisioning creates and updates the
  // declared streams (so the operator cannot shrink DEAD_LETTERS); only the operator removes a
  // (replayed) dead letter.
  for (const stream of streams) {
    add("purge or delete a stream", `$JS.API.STREAM.PURGE.${stream}`, `$JS.API.STREAM.DELETE.${stream}`)
    if (!provisioning) add("create or update a stream", `$JS.API.STREAM.UPDATE.${stream}`, `$JS.API.STREAM.CREATE.${stream}`)
    if (!(access.operator && stream === StreamNames.deadLetters)) add("delete a stored message", `$JS.API.STREAM.MSG.DELETE.${stream}`)
    add("snapshot or restore a stream", `$JS.API.STREAM.SNAPSHOT.${stream}`, `$JS.API.STREAM.RESTORE.${stream}`)
  }
  add("create or update a stream", "$JS.API.STREAM.CREATE.ROGUE", "$JS.API.STREAM.UPDATE.ROGUE")
  add("account and cluster administration", "$JS.API.ACCOUNT.PURGE.$G", "$JS.API.META.LEADER.STEPDOWN", "$JS.API.SERVER.REMOVE", "$JS.API.STREAM.PEER.REMOVE.ORDER_EVENTS")

  // Reading what is not a reply to itself: other inboxes, the data subjects directly.
  for (const other of users.filter((u) => u.name !== user)) out.push({ kind: "read another user's replies", subject: `${inboxPrefixOf(other.name)}.>`, subscribe: true })
  for (const subject of ["_INBOX.>", "orders.>", "dlq.>", "$KV.>", "$JS.>"]) out.push({ kind: "subscribe to data", subject, subscribe: true })
  return out
}

/** The server's answer to one attempt: "denied", or what happened instead. */
const attempt = async (user: UserName, action: Forbidden): Promise<string> => {
  const nc = connections.client(user).nc
  if (action.subscribe === true) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve("no answer within 10 s"), 10_000)
      const sub = nc.subscribe(action.subject, {
        callback: (err) => {
          clearTimeout(timer)
          resolve(err !== null && denied.test(String(err)) ? "denied" : `delivered (${String(err)})`)
          sub.unsubscribe()
        }
      })
      // A refused subscription is closed by the client right after the error.
      void sub.closed.then(() => {
        clearTimeout(timer)
        resolve("denied")
      })
    })
  }
  // A request: refused at once when publishing is denied; otherwise answered (or "no responders").
  return nc.request(action.subject, "{}", { timeout: 5_000 }).then(
    (m) => `answered: ${new TextDecoder().decode(m.data).slice(0, 120)}`,
    (e: unknown) => (denied.test(String(e)) ? "denied" : `not denied: ${String(e)}`)
  )
}

describe("the denial matrix on a real nats-server with the generated users", () => {
  it.each(users.map((u) => [u.name] as const))("%s is refused every forbidden action, and stays connected", async (user) => {
    const actions = forbiddenFor(user)
    const allowed: Array<string> = []
    for (const action of actions) {
      const result = await attempt(user, action)
      if (result !== "denied") allowed.push(`${action.kind}: ${action.subscribe === true ? "subscribe" : "publish"} ${action.subject} -> ${result}`)
    }
    expect(allowed).toEqual([])
    expect(actions.length).toBeGreaterThan(50)
    // The probe tells a refusal from an answer: a request every user may make is answered.
    expect(await attempt(user, { kind: "control", subject: "$JS.API.INFO" })).toMatch(/^answered: /)
    expect(await Effect.runPromise(connections.client(user).isConnected)).toBe(true)
  }, 120_000)

  it("states the dead-letter subjects of every durable among the forbidden publishes of the others", () => {
    const dlq = deadLetterSubject(StreamNames.commands, "payments-worker")
    for (const user of users.map((u) => u.name).filter((u) => u !== "payments-worker")) {
      expect(forbiddenFor(user).some((a) => a.subject === dlq), user).toBe(true)
    }
  })
})
