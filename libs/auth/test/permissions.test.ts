import { appAccess, appNames, deadLetterSubject, Durables, idempotencyBucket, IdempotentDurables, orderTopology, StreamNames } from "@conveyor/domain"
import { describe, expect, it } from "@effect/vitest"
import { forbiddenGrants, natsUsers, passwordEnv, passwordHashEnv, PROVISIONING_USER, renderAuthConf } from "../src/index.js"

const users = natsUsers()
const byName = new Map(users.map((u) => [u.name, u]))

describe("generated NATS permissions", () => {
  it("has one user per app plus the provisioning user, each with its own password variable", () => {
    expect(users.map((u) => u.name)).toEqual([...appNames, PROVISIONING_USER])
    expect(new Set(users.map((u) => u.passwordEnv)).size).toBe(users.length)
    expect(passwordEnv("inventory-worker")).toBe("NATS_PASSWORD_INVENTORY_WORKER")
    expect(passwordHashEnv("inventory-worker")).toBe("NATS_BCRYPT_INVENTORY_WORKER")
  })

  it("never grants all of JetStream, its whole API, or every subject", () => {
    for (const u of users) {
      for (const grant of [...u.permissions.publish, ...u.permissions.subscribe]) {
        expect(forbiddenGrants, `${u.name}: ${grant}`).not.toContain(grant)
      }
      // Deleting or purging anything stays with a server administrator.
      // (The operator removes replayed dead letters and its own reading consumer on that stream.)
      const allowed = [`$JS.API.STREAM.MSG.DELETE.${StreamNames.deadLetters}`, `$JS.API.CONSUMER.DELETE.${StreamNames.deadLetters}.>`]
      expect(u.permissions.publish.filter((g) => /\.(DELETE|PURGE)\./.test(g) && !allowed.includes(g))).toEqual([])
    }
  })

  it("subscribes only below the user's own inbox prefix: every delivery is a reply", () => {
    for (const u of users) {
      expect(u.permissions.subscribe).toEqual([`${u.inboxPrefix}.>`])
      expect(u.inboxPrefix).toBe(`_INBOX_${u.name}`)
    }
    // No prefix is a prefix of another's subjects: `_INBOX_ctl.>` never matches `_INBOX_ctl-x.…`.
    expect(new Set(users.map((u) => u.inboxPrefix)).size).toBe(users.length)
  })

  it("lets an app pull exactly its own durables", () => {
    for (const app of appNames) {
      const pulls = byName.get(app)!.permissions.publish.filter((g) => g.startsWith("$JS.API.CONSUMER.MSG.NEXT."))
      const own = appAccess[app].consumes.map((c) => `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`)
      if (appAccess[app].operator) expect(pulls).toEqual([`$JS.API.CONSUMER.MSG.NEXT.${StreamNames.deadLetters}.>`])
      else expect(pulls).toEqual(own)
    }
  })

  it("gives every declared durable exactly one puller besides the operator", () => {
    for (const c of orderTopology.consumers) {
      const grant = `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`
      expect(users.filter((u) => u.permissions.publish.includes(grant)).map((u) => u.name)).toHaveLength(1)
    }
  })

  it("lets only writers publish to a bucket's keys", () => {
    const gateway = byName.get("gateway")!.permissions.publish
    expect(gateway).toContain("$KV.gateway-requests.>")
    expect(gateway).not.toContain("$KV.order-workflows.>") // read-only: the orchestrator owns workflow state
    expect(gateway).toContain("$JS.API.STREAM.INFO.KV_order-workflows")
  })

  it("gives the provisioning user topology rights and no data subjects", () => {
    const p = byName.get(PROVISIONING_USER)!.permissions.publish
    expect(p).toContain(`$JS.API.STREAM.CREATE.${StreamNames.events}`)
    expect(p).toContain(`$JS.API.STREAM.CREATE.KV_${idempotencyBucket("notifier")}`)
    // The workers' stores are their idempotency records: they have no idempotency bucket to create.
    expect(p).not.toContain(`$JS.API.STREAM.CREATE.KV_${idempotencyBucket("payments-worker")}`)
    expect(p.filter((g) => !g.startsWith("$JS.API."))).toEqual([])
  })

  // The orchestrator reads its timers through a durable of its own (provisioned, fired once across
  // replicas), so no app watches a bucket: none may create a consumer on a KV stream.
  it("lets no app create a consumer on a KV stream, and ctl one on the dead letters", () => {
    for (const u of users.filter((u) => u.name !== PROVISIONING_USER)) {
      const creates = u.permissions.publish.filter((g) => g.startsWith("$JS.API.CONSUMER.CREATE.") || g.startsWith("$JS.API.CONSUMER.DURABLE.CREATE."))
      const expected: Record<string, ReadonlyArray<string>> = {
        ctl: [`$JS.API.CONSUMER.CREATE.${StreamNames.deadLetters}`, `$JS.API.CONSUMER.CREATE.${StreamNames.deadLetters}.>`],
        console: [`$JS.API.CONSUMER.CREATE.${StreamNames.deadLetters}`, `$JS.API.CONSUMER.CREATE.${StreamNames.deadLetters}.>`]
      }
      expect(creates, u.name).toEqual(expected[u.name] ?? [])
    }
  })

  it("lets an app dead-letter only on its own durables' subjects", () => {
    for (const app of appNames) {
      const dlq = byName.get(app)!.permissions.publish.filter((g) => g.startsWith("dlq."))
      // The timer durable never dead-letters (a timer is nak'ed until due, then fired and acked).
      const dead = appAccess[app].consumes.filter((c) => c.durable !== Durables.orchestratorTimers)
      expect(dlq, app).toEqual(dead.map((c) => deadLetterSubject(c.stream, c.durable)))
    }
  })

  it("grants nobody the workers' former idempotency buckets: each worker's store is its idempotency record", () => {
    for (const bucket of [Durables.inventory, Durables.payments, Durables.shipping].map(idempotencyBucket)) {
      for (const u of users) expect([...u.permissions.publish, ...u.permissions.subscribe].filter((g) => g.includes(bucket)), `${u.name} ${bucket}`).toEqual([])
    }
  })

  it("keeps each consumer's idempotency records to its own app", () => {
    for (const c of orderTopology.consumers) {
      const subject = `$KV.${idempotencyBucket(c.durable)}.>`
      const writers = users.filter((u) => u.permissions.publish.includes(subject)).map((u) => u.name)
      // Besides the operator, who reads every declared stream.
      const readers = users
        .filter((u) => !(u.name in appAccess && appAccess[u.name as keyof typeof appAccess].operator) && u.permissions.publish.some((g) => /\.(MSG|DIRECT)\.GET\./.test(`${g}.`) && g.includes(`KV_${idempotencyBucket(c.durable)}`)))
        .map((u) => u.name)
      if (!(IdempotentDurables as ReadonlyArray<string>).includes(c.durable)) {
        expect(writers, c.durable).toEqual([])
        expect(readers, c.durable).toEqual([])
      } else {
        expect(writers, c.durable).toEqual([c.durable])
        expect(readers, c.durable).toEqual([c.durable])
      }
    }
  })

  it("gives the operators (ctl, console) no way to change, purge or delete a stream or a durable", () => {
    for (const name of ["ctl", "console"] as const) {
      const grants = byName.get(name)!.permissions.publish
      expect(grants.filter((g) => /^\$JS\.API\.(STREAM\.(CREATE|UPDATE|PURGE|DELETE)|CONSUMER\.DURABLE\.CREATE)\./.test(g))).toEqual([])
      expect(grants.filter((g) => /^\$JS\.API\.CONSUMER\.(CREATE|DELETE)\./.test(g) && !g.includes(`.${StreamNames.deadLetters}`))).toEqual([])
    }
  })

  it("renders a config whose passwords are variables and whose subjects are quoted strings", () => {
    const conf = renderAuthConf(users, "header\nline two")
    expect(conf.startsWith("# header\n# line two\nauthorization {")).toBe(true)
    expect(conf).toContain("password: $NATS_BCRYPT_GATEWAY\n")
    expect(conf).toContain('"$JS.API.INFO"')
    expect(conf).not.toMatch(/password: "/)
  })
})
