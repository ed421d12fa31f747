// Every generated NATS user against a real nats-server started with the committed auth config:
// each one can do its whole job and is refused, with a typed error, outside it; and the attacks
// of issue 16 (forged idempotency records, pushes into a pull inbox, forged dead letters, an
// operator shrinking the dead-letter stream) fail. nats-denials.test.ts has the full matrix.
import { inboxPrefixOf, PROVISIONING_USER, type UserName } from "@conveyor/auth"
import {
  type AppName, appAccess, appNames, Buckets, deadLetterSubject, Durables, eventSubject, idempotencyBucket, IdempotentDurables, orderTopology, publishersOf,
  StreamNames, subjectMatches
} from "@conveyor/domain"
import { DeadLetterHeaders, PublishFailed } from "@conveyor/messaging"
import {
  ensureTopology, idempotencyKey, listDeadLetters, makeJetStreamDeadLetterSink, makeJetStreamPublisher, makeNatsClient, makeNatsConfig, type NatsClient, NatsConnection,
  openKvIdempotencyStore,
  planTopology, PullFailed, pullDeliveries, replayDeadLetters
} from "@conveyor/nats"
import { eventually, type LocalNatsProcess } from "@conveyor/testing"
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { Chunk, Duration, Effect, Option, Redacted, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { connectUsers, denied, randomPasswords, sampleSubjects, startAuthServer, type UserConnections } from "./auth-server.js"

const passwords = randomPasswords()

const mayPublish = (app: AppName, subject: string) => appAccess[app].publish.some((p) => subjectMatches(p, subject))

let server: LocalNatsProcess
let users: UserConnections
const client = (user: UserName) => users.client(user)

const publish = (user: UserName, subject: string, options: { payload?: Uint8Array; headers?: Record<string, string> } = {}) =>
  makeJetStreamPublisher(client(user)).publish({
    subject,
    payload: options.payload ?? new TextEncoder().encode(`{"by":"${user}"}`),
    msgId: randomBytes(8).toString("hex"),
    ...(options.headers !== undefined ? { headers: options.headers } : {})
  })

const pullFrom = (c: NatsClient, stream: string, durable: string) =>
  pullDeliveries(c, { stream, durable, batch: 1, confirmAcks: true }).pipe(
    Stream.take(1),
    Stream.mapEffect((d) => Effect.as(d.ack, { subject: d.subject, messageId: d.messageId })),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`no delivery from ${stream}/${durable} within 20 s`) })
  )
const pullOne = (user: UserName, stream: string, durable: string) => Effect.map(pullFrom(client(user), stream, durable), (ds) => ds.map((d) => d.subject))

beforeAll(async () => {
  server = await startAuthServer(passwords)
  users = await connectUsers(server, passwords)
})

afterAll(async () => {
  await users?.closeAll()
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
        const filters = orderTopology.consumers.find((c) => c.durable === durable)!.filterSubjects!
        const taken = (subject: string) => filters.some((f) => subjectMatches(f, subject))
        if (stream.startsWith("KV_")) {
          // A durable on a bucket's stream (the timers'): fed by the app's own writes to the bucket.
          await (await new Kvm(client(app).js).open(stream.slice("KV_".length))).put(`auth-test-feed.${app}`, "1")
        } else {
          // Feed the durable through whoever may publish there: the real flow between identities.
          const subject = sampleSubjects.find((s) => taken(s) && publishersOf(s).some((p) => !appAccess[p].operator))!
          await Effect.runPromise(publish(publishersOf(subject).find((p) => !appAccess[p].operator)!, subject))
        }
        const pulled = await Effect.runPromise(pullOne(app, stream, durable))
        expect(pulled).toHaveLength(1)
        expect(taken(pulled[0]!)).toBe(true)
      }
      if (access.consumes.length > 0) {
        // The dead-letter depth per source durable on the app's /metrics comes from this.
        const info = await client(app).jsm.streams.info(StreamNames.deadLetters, { subjects_filter: ">" })
        expect(info.config.name).toBe(StreamNames.deadLetters)
      }

      const kvm = new Kvm(client(app).js)
      for (const { bucket, access: mode, watch } of access.buckets) {
        const kv = await kvm.open(bucket)
        expect((await kv.status()).bucket).toBe(bucket)
        const key = `auth-test.${app}`
        if (mode === "write") {
          const rev = await kv.create(key, new TextEncoder().encode("1"))
          await kv.update(key, new TextEncoder().encode("2"), rev)
          expect(new TextDecoder().decode((await kv.get(key))!.value)).toBe("2")
          await kv.delete(key)
        } else {
          expect(await kv.get(key)).toBeNull()
          await expect(kv.put(key, new TextEncoder().encode("x"))).rejects.toThrow(denied)
        }
        // Listing keys creates a consumer on the bucket's stream: only a watching app may.
        const keys = async () => {
          const found: Array<string> = []
          for await (const k of await kv.keys()) found.push(k)
          return found
        }
        if (watch === true) expect(Array.isArray(await keys())).toBe(true)
        else await expect(keys()).rejects.toThrow(denied)
      }
      for (const { durable } of access.consumes.filter((c) => (IdempotentDurables as ReadonlyArray<string>).includes(c.durable))) {
        const store = await Effect.runPromise(openKvIdempotencyStore(client(app), idempotencyBucket(durable)))
        const claim = await Effect.runPromise(store.claim(`${durable}.auth-test-${app}`, 5_000))
        expect(claim._tag).toBe("Claimed")
      }
    })

    it("is refused outside its grants with a typed error, and keeps working", async () => {
      const foreign = sampleSubjects.find((s) => !mayPublish(app, s))
      if (!access.operator) {
        // The operator apps (ctl, console) may publish every event and command (dead-letter replay); their limits are below.
        expect(foreign).toBeDefined()
        const refused = await Effect.runPromise(Effect.flip(publish(app, foreign!)))
        expect(refused).toBeInstanceOf(PublishFailed)
        expect((refused as PublishFailed).retryable).toBe(false)
        expect((refused as PublishFailed).reason).toMatch(denied)
      }

      const others = orderTopology.consumers.filter((c) => !access.consumes.some((o) => o.durable === c.durable))
      const other = others[0]!
      if (access.operator) {
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

/** The subscriptions of the connection named `name`, as the monitoring port lists them to anyone. */
const subscriptionsOf = async (name: string): Promise<ReadonlyArray<string>> => {
  const connz = (await (await fetch(`http://127.0.0.1:${server.monitorPort}/connz?subs=1`)).json()) as {
    connections: ReadonlyArray<{ name?: string; subscriptions_list?: ReadonlyArray<string> }>
  }
  return connz.connections.find((c) => c.name === name)?.subscriptions_list ?? []
}

/** Takes everything waiting on a durable, so the next delivery is the next message published. */
const drain = async (c: NatsClient, stream: string, durable: string) => {
  const consumer = await c.js.consumers.get(stream, durable)
  while ((await consumer.info()).num_pending > 0) {
    for await (const m of await consumer.fetch({ max_messages: 256, expires: 1_000 })) m.ack()
  }
}

describe("the attacks of issue 16, with the generated users", () => {
  it("the notifier cannot plant or read the payments worker's ledger entry (its idempotency record); the worker's own capture is unaffected", async () => {
    // A refund tombstone planted for an order would make the worker refuse its capture.
    const key = "order.order-forged"
    const forged = new TextEncoder().encode(JSON.stringify({ status: "refunded", capturedCents: 0, refundedCents: 0 }))
    const planted = await Effect.runPromise(Effect.flip(publish("notifier", `$KV.${Buckets.paymentsLedger}.${key}`, { payload: forged })))
    expect((planted as PublishFailed).reason).toMatch(denied)
    await expect((await new Kvm(client("notifier").js).open(Buckets.paymentsLedger)).get(key)).rejects.toThrow(denied)
    const ledger = await new Kvm(client("payments-worker").js).open(Buckets.paymentsLedger)
    expect(await ledger.create(key, new TextEncoder().encode(JSON.stringify({ status: "captured", capturedCents: 100, refundedCents: 0 })))).toBeGreaterThan(0)
  })

  it("the payments worker cannot plant or read an idempotency record of the notifier; the notifier's own claim is unaffected", async () => {
    const bucket = idempotencyBucket(Durables.notifier)
    const id = `${Durables.notifier}.order-forged:2:0`
    const forged = new TextEncoder().encode(JSON.stringify({ s: "done", out: [] }))
    const planted = await Effect.runPromise(Effect.flip(publish("payments-worker", `$KV.${bucket}.${idempotencyKey(id)}`, { payload: forged })))
    expect((planted as PublishFailed).reason).toMatch(denied)
    const opened = await Effect.runPromise(Effect.either(openKvIdempotencyStore(client("payments-worker"), bucket)))
    expect(opened._tag === "Left" && opened.left.reason).toMatch(denied)
    const store = await Effect.runPromise(openKvIdempotencyStore(client("notifier"), bucket))
    expect((await Effect.runPromise(store.claim(id, 5_000)))._tag).toBe("Claimed")
  })

  it("a push consumer aimed at the payments worker's pull inbox gets nothing executed: only its own durable's deliveries come out", async () => {
    // The attack needs a right to create a consumer, since the server does not check where one
    // delivers (nats-server 8274). No app has one any more (the orchestrator's timers have a
    // provisioned durable): every app is refused, so nothing forged reaches the inbox. The pull
    // loop's own check (deliveries not from its durable are dropped) is tested without auth in
    // libs/nats/test/pull-foreign.test.ts.
    const stream = StreamNames.commands
    const durable = Durables.payments
    const victim = await users.connect("payments-worker", "auth-test-pull-victim")
    await drain(victim, stream, durable)
    const pulled = Effect.runPromise(pullFrom(victim, stream, durable))
    let inboxes: ReadonlyArray<string> = []
    await eventually(async () => {
      inboxes = (await subscriptionsOf("auth-test-pull-victim")).filter((s) => s.startsWith(inboxPrefixOf("payments-worker")) && !/[*>]/.test(s))
      return inboxes.length > 0
    }, 15_000, "the pull inbox listed by /connz")
    for (const app of appNames) {
      for (const inbox of inboxes) {
        const refused = await client(app).jsm.consumers.add("KV_order-timers", {
          deliver_subject: inbox, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.LastPerSubject, filter_subject: "$KV.order-timers.>"
        }).then(() => "created", (e: unknown) => String(e))
        expect(refused, app).toMatch(denied)
      }
    }
    const real = await Effect.runPromise(publish("orchestrator", "orders.commands.payments.capture"))
    const [first] = await pulled
    expect(first?.subject).toBe("orders.commands.payments.capture")
    expect(first?.messageId).not.toBe(`KV_order-timers:1`)
    expect(real.seq).toBeGreaterThan(0)
  })

  it("an app can dead-letter only on its own durable's subject, and replay refuses a letter that does not match its original", async () => {
    // The letter of the issue: the notifier names a payments command on the payments worker's subject.
    const claim = (stream: string, consumer: string, subject: string, sequence: number) => ({
      [DeadLetterHeaders.originalSubject]: subject, [DeadLetterHeaders.originalStream]: stream, [DeadLetterHeaders.originalSequence]: String(sequence),
      [DeadLetterHeaders.originalMessageId]: "forged", [DeadLetterHeaders.consumer]: consumer, [DeadLetterHeaders.errorTag]: "Forged"
    })
    const capture = new TextEncoder().encode(JSON.stringify({ type: "CapturePayment", orderId: "forged-order", amountCents: 100_000 }))
    const onPayments = await Effect.runPromise(
      Effect.flip(publish("notifier", deadLetterSubject(StreamNames.commands, Durables.payments), { payload: capture, headers: claim(StreamNames.commands, Durables.payments, "orders.commands.payments.capture", 1) }))
    )
    expect((onPayments as PublishFailed).reason).toMatch(denied)

    // On its own subject the notifier can still write a letter; what it claims is checked.
    const events = await client("ctl").jsm.streams.info(StreamNames.events)
    const own = deadLetterSubject(StreamNames.events, Durables.notifier)
    await Effect.runPromise(publish("notifier", own, { payload: capture, headers: claim(StreamNames.commands, Durables.payments, "orders.commands.payments.capture", 1) }))
    await Effect.runPromise(publish("notifier", own, { payload: capture, headers: claim(StreamNames.events, Durables.notifier, eventSubject("OrderCompleted"), events.state.last_seq) }))
    const forged = await Effect.runPromise(listDeadLetters(client("ctl"), { errorTag: "Forged" }))
    expect(forged).toHaveLength(2)
    const report = await Effect.runPromise(replayDeadLetters(client("ctl"), { errorTag: "Forged" }))
    expect(report.replayed).toEqual([])
    expect(report.failed.map((f) => f.reason)).toEqual([expect.stringMatching(/not the dead-letter subject/), expect.stringMatching(/another subject or payload/)])
    expect(await Effect.runPromise(listDeadLetters(client("ctl"), { errorTag: "Forged" }))).toHaveLength(2)
  })

  it("the operator cannot update, purge or delete the dead-letter stream or any other, nor change a durable", async () => {
    const jsm = client("ctl").jsm
    const before = await jsm.streams.info(StreamNames.deadLetters)
    await expect(jsm.streams.update(StreamNames.deadLetters, { max_msgs: 1 })).rejects.toThrow(denied)
    await expect(jsm.streams.purge(StreamNames.deadLetters)).rejects.toThrow(denied)
    await expect(jsm.streams.delete(StreamNames.deadLetters)).rejects.toThrow(denied)
    await expect(jsm.streams.update(StreamNames.commands, { max_msgs: 1 })).rejects.toThrow(denied)
    await expect(jsm.consumers.update(StreamNames.commands, Durables.payments, { max_deliver: 1 })).rejects.toThrow(denied)
    const after = await jsm.streams.info(StreamNames.deadLetters)
    expect(after.config.max_msgs).toBe(before.config.max_msgs)
    expect(after.state.messages).toBe(before.state.messages)
  })
})
