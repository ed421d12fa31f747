// Every generated NATS user against a real nats-server started with the committed auth config:
// each one can do its whole job and is refused, with a typed error, outside it.
import { inboxPrefixOf, natsUsers, PROVISIONING_USER, type UserName } from "@conveyor/auth"
import { type AppName, appAccess, appNames, commandRoutes, eventSubject, type OrderEventType, orderTopology, publishersOf, StreamNames, subjectMatches } from "@conveyor/domain"
import { PublishFailed } from "@conveyor/messaging"
import {
  ensureTopology, listDeadLetters, makeJetStreamDeadLetterSink, makeJetStreamPublisher, makeNatsClient, makeNatsConfig, type NatsClient, NatsConnection, openKvIdempotencyStore,
  planTopology, PullFailed, pullDeliveries, replayDeadLetters
} from "@conveyor/nats"
import { LocalNatsProcess } from "@conveyor/testing"
import { Kvm } from "@nats-io/kv"
import { Chunk, Duration, Effect, Option, Redacted, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const authConf = join(import.meta.dirname, "..", "base", "nats", "auth.conf")
const users = natsUsers()
const passwords = new Map(users.map((u) => [u.name, randomBytes(12).toString("hex")]))

const eventTypes: ReadonlyArray<OrderEventType> = [
  "OrderPlaced", "StockReserved", "StockRejected", "StockReleased", "PaymentCaptured", "PaymentDeclined",
  "PaymentRefunded", "ShipmentScheduled", "OrderCompleted", "OrderCancelled", "StepTimedOut"
]
const commandSubjects = Object.values(commandRoutes).map((r) => `orders.commands.${r.worker}.${r.action}`)
/** Concrete subjects of every kind the system publishes. */
const sampleSubjects = [...eventTypes.map(eventSubject), ...commandSubjects, "dlq.orders.commands.inventory.reserve", "dlq.orders.events.order-placed"]
const mayPublish = (app: AppName, subject: string) => appAccess[app].publish.some((p) => subjectMatches(p, subject))

let server: LocalNatsProcess
const clients = new Map<UserName, { client: NatsClient; drain: Effect.Effect<void> }>()

const connectAs = async (user: UserName): Promise<NatsClient> => {
  const made = await Effect.runPromise(
    makeNatsClient(
      makeNatsConfig({
        servers: [server.url],
        name: `auth-test-${user}`,
        user: Option.some(user),
        password: Option.some(Redacted.make(passwords.get(user)!)),
        inboxPrefix: Option.some(inboxPrefixOf(user)),
        connectTimeout: Duration.seconds(10)
      })
    )
  )
  clients.set(user, made)
  return made.client
}
const client = (user: UserName) => clients.get(user)!.client

const publish = (user: UserName, subject: string) =>
  makeJetStreamPublisher(client(user)).publish({ subject, payload: new TextEncoder().encode(`{"by":"${user}"}`), msgId: randomBytes(8).toString("hex") })

const pullOne = (user: UserName, stream: string, durable: string) =>
  pullDeliveries(client(user), { stream, durable, batch: 1, confirmAcks: true }).pipe(
    Stream.take(1),
    Stream.mapEffect((d) => Effect.as(d.ack, d.subject)),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`no delivery from ${stream}/${durable} within 20 s`) })
  )

const denied = /permissions violation/i

beforeAll(async () => {
  // nats-server parses a referenced variable as a config value (a leading digit would make a
  // number): the deployments hand it the password in double quotes, and so does this test.
  for (const u of users) process.env[u.passwordEnv] = JSON.stringify(passwords.get(u.name)!)
  // The generated file sets no listen/port/store: the test's -p/-sd flags and LocalNatsProcess's own apply.
  server = await LocalNatsProcess.start({ args: ["-c", authConf] })
  for (const u of users) await connectAs(u.name)
})

afterAll(async () => {
  for (const { drain } of clients.values()) await Effect.runPromise(drain)
  await server?.stop()
})

describe("generated NATS users on a real nats-server", () => {
  it("refuses a connection without credentials or with another user's password", async () => {
    const attempt = (user: Option.Option<string>, password: string) =>
      Effect.runPromise(
        Effect.flip(
          makeNatsClient(
            makeNatsConfig({ servers: [server.url], user, password: Option.some(Redacted.make(password)), connectTimeout: Duration.millis(300) })
          )
        )
      )
    expect((await attempt(Option.none(), "x")).cause).toMatch(/authorization/i)
    expect((await attempt(Option.some("gateway"), passwords.get("notifier")!)).cause).toMatch(/authorization/i)
  })

  it("the provisioning user applies the whole topology, and cannot delete, purge or publish data", async () => {
    const report = await Effect.runPromise(ensureTopology(orderTopology).pipe(Effect.provideService(NatsConnection, client(PROVISIONING_USER))))
    const created = report.diffs.filter((d) => d.plan._tag === "Create").map((d) => `${d.plan.kind} ${d.plan.name}`)
    expect(created).toHaveLength(orderTopology.streams.length + orderTopology.consumers.length + orderTopology.buckets.length)
    // Applying again is a no-op with the same rights.
    const again = await Effect.runPromise(ensureTopology(orderTopology).pipe(Effect.provideService(NatsConnection, client(PROVISIONING_USER))))
    expect(again.diffs.every((d) => d.plan._tag === "InSync")).toBe(true)

    const jsm = client(PROVISIONING_USER).jsm
    await expect(jsm.streams.delete(StreamNames.events)).rejects.toThrow(denied)
    await expect(jsm.streams.purge(StreamNames.events)).rejects.toThrow(denied)
    const refused = await Effect.runPromise(Effect.flip(publish(PROVISIONING_USER, eventSubject("OrderPlaced"))))
    expect(refused).toBeInstanceOf(PublishFailed)
    expect(await client(PROVISIONING_USER).isConnected.pipe(Effect.runPromise)).toBe(true)
  })

  it("ctl does the operator's job: plan, status listings, read and replay dead letters", async () => {
    const ctl = client("ctl")
    const plan = await Effect.runPromise(planTopology(ctl, orderTopology))
    expect(plan.diffs.every((d) => d.plan._tag === "InSync")).toBe(true)
    const names: Array<string> = []
    for await (const n of ctl.jsm.streams.names()) names.push(n)
    expect(names).toContain(StreamNames.deadLetters)
    for await (const s of ctl.jsm.streams.list()) {
      for await (const c of ctl.jsm.consumers.list(s.config.name)) expect(c.num_pending).toBeGreaterThanOrEqual(0)
    }
    // The payments worker dead-letters a command as its runtime does; the operator lists the
    // letter, replays it to its original subject, and the letter leaves the dead-letter stream.
    await Effect.runPromise(publish("orchestrator", "orders.commands.payments.capture"))
    const worker = client("payments-worker")
    const sink = makeJetStreamDeadLetterSink(worker)
    await Effect.runPromise(
      pullDeliveries(worker, { stream: StreamNames.commands, durable: "payments-worker", batch: 1, confirmAcks: true }).pipe(
        Stream.take(1),
        Stream.mapEffect((d) => sink.send({ delivery: d, reason: "permanent", error: { tag: "CardRejected", message: "test" } }).pipe(Effect.zipRight(d.term("test")))),
        Stream.runDrain
      )
    )
    const seq = (await ctl.jsm.streams.info(StreamNames.deadLetters)).state.last_seq
    const letters = await Effect.runPromise(listDeadLetters(ctl, { sequences: [seq] }))
    expect(letters.map((l) => l.sequence)).toEqual([seq])
    const report = await Effect.runPromise(replayDeadLetters(ctl, { sequences: [seq] }))
    expect(report.failed.map((f) => f.reason)).toEqual([])
    expect(report.replayed.map((l) => l.sequence)).toEqual([seq])
    expect(await ctl.jsm.streams.getMessage(StreamNames.deadLetters, { seq })).toBeNull()
    // No durable on DEAD_LETTERS, and the operator may not delete the data streams' durables.
    await expect(ctl.jsm.consumers.delete(StreamNames.events, "notifier")).rejects.toThrow(denied)
  })

  describe.each(appNames.map((app) => [app] as const))("%s", (app) => {
    const access = appAccess[app]

    it("does its whole job: publishes its subjects with a PubAck, pulls and acks its durables, uses its buckets", async () => {
      const own = sampleSubjects.filter((s) => mayPublish(app, s))
      expect(own.length).toBeGreaterThan(0)
      for (const subject of own) {
        const ack = await Effect.runPromise(publish(app, subject))
        expect(ack.seq).toBeGreaterThan(0)
      }

      for (const { stream, durable } of access.consumes) {
        const filter = orderTopology.consumers.find((c) => c.durable === durable)!.filterSubject!
        if (stream.startsWith("KV_")) {
          // A durable on a bucket's stream (the timers'): fed by the app's own writes to the bucket.
          await (await new Kvm(client(app).js).open(stream.slice("KV_".length))).put(`auth-test-feed.${app}`, "1")
        } else {
          // Feed the durable through whoever may publish there: the real flow between identities.
          const subject = sampleSubjects.find((s) => subjectMatches(filter, s) && publishersOf(s).some((p) => p !== "ctl"))!
          await Effect.runPromise(publish(publishersOf(subject).find((p) => p !== "ctl")!, subject))
        }
        const pulled = await Effect.runPromise(pullOne(app, stream, durable))
        expect(pulled).toHaveLength(1)
        expect(subjectMatches(filter, pulled[0]!)).toBe(true)
      }

      const kvm = new Kvm(client(app).js)
      for (const { bucket, access: mode } of access.buckets) {
        const kv = await kvm.open(bucket)
        expect((await kv.status()).bucket).toBe(bucket)
        const key = `auth-test.${app}`
        if (mode === "write") {
          const rev = await kv.create(key, new TextEncoder().encode("1"))
          await kv.update(key, new TextEncoder().encode("2"), rev)
          expect(new TextDecoder().decode((await kv.get(key))!.value)).toBe("2")
          const keys: Array<string> = []
          for await (const k of await kv.keys("auth-test.>")) keys.push(k)
          expect(keys).toContain(key)
          await kv.delete(key)
        } else {
          expect(await kv.get(key)).toBeNull()
          const keys: Array<string> = []
          for await (const k of await kv.keys()) keys.push(k)
          expect(Array.isArray(keys)).toBe(true)
          await expect(kv.put(key, new TextEncoder().encode("x"))).rejects.toThrow(denied)
        }
      }
      if (access.buckets.some((b) => b.bucket === "idempotency" && b.access === "write")) {
        const store = await Effect.runPromise(openKvIdempotencyStore(client(app), "idempotency"))
        const claim = await Effect.runPromise(store.claim(`auth-test-${app}`, 5_000))
        expect(claim._tag).toBe("Claimed")
      }
    })

    it("is refused outside its grants with a typed error, and keeps working", async () => {
      const foreign = sampleSubjects.find((s) => !mayPublish(app, s))
      if (app !== "ctl") {
        // ctl may publish every event and command (dead-letter replay); its limits are below.
        expect(foreign).toBeDefined()
        const refused = await Effect.runPromise(Effect.flip(publish(app, foreign!)))
        expect(refused).toBeInstanceOf(PublishFailed)
        expect((refused as PublishFailed).retryable).toBe(false)
        expect((refused as PublishFailed).reason).toMatch(denied)
      }

      const others = orderTopology.consumers.filter((c) => !access.consumes.some((o) => o.durable === c.durable))
      const other = others[0]!
      if (app === "ctl") {
        // The operator may read every declared durable's info (lag), so binding succeeds; taking
        // its messages does not. (The pull loop would retry a refused pull forever: ask once.)
        const next = `$JS.API.CONSUMER.MSG.NEXT.${other.stream}.${other.durable}`
        await expect(client(app).nc.request(next, JSON.stringify({ batch: 1, no_wait: true }), { timeout: 5_000 })).rejects.toThrow(denied)
      } else {
        const bind = await Effect.runPromise(Effect.flip(pullOne(app, other.stream, other.durable)))
        expect(bind).toBeInstanceOf(PullFailed)
        expect((bind as PullFailed).cause).toMatch(denied)
      }

      // Another user's replies (pulled messages, PubAcks) are out of reach.
      const otherInbox = `${inboxPrefixOf(app === "notifier" ? "gateway" : "notifier")}.>`
      const subscribeError = await new Promise<Error | null>((resolve) => {
        const sub = client(app).nc.subscribe(otherInbox, { callback: (err) => resolve(err) })
        void sub.closed.then(() => resolve(null))
        setTimeout(() => resolve(new Error("no answer from the server within 10 s")), 10_000)
      })
      expect(String(subscribeError)).toMatch(/permissions violation for subscription/i)

      const jsm = client(app).jsm
      await expect(jsm.streams.delete(StreamNames.commands)).rejects.toThrow(denied)
      await expect(jsm.streams.purge(StreamNames.events)).rejects.toThrow(denied)
      await expect(jsm.consumers.delete(other.stream, other.durable)).rejects.toThrow(denied)
      await expect(jsm.streams.add({ name: `ROGUE_${app.replace(/-/g, "_")}`, subjects: [`rogue.${app}`] })).rejects.toThrow(denied)

      // Still connected, and its own work still goes through on the same connection.
      expect(await Effect.runPromise(client(app).isConnected)).toBe(true)
      const own = sampleSubjects.find((s) => mayPublish(app, s))!
      expect((await Effect.runPromise(publish(app, own))).seq).toBeGreaterThan(0)
    })
  })
})
