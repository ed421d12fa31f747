// Renders each kustomize overlay as `kubectl apply -k` would, validates every object against the
// Kubernetes (and KEDA) schemas, and checks the invariants operators rely on.
import { natsUsers, PROVISIONING_USER } from "@conveyor/auth"
import { appAccess, orderTopology } from "@conveyor/domain"
import { describe, expect, it } from "@effect/vitest"
import { authConf, PROD_REPLICAS } from "../scripts/generated.js"
import { consumerApps, NATS_POD_GRACE_SECONDS, POD_GRACE_SECONDS, SECRET, SERVER_SECRET, services, SHUTDOWN_GRACE_SECONDS } from "../scripts/manifests.js"
import { byKind, type K8sObject, named, podSpec, renderOverlay, validateAgainstSchema, workloads } from "./render.js"

const overlays = { dev: renderOverlay("dev"), prod: renderOverlay("prod") }
const containers = (o: K8sObject): ReadonlyArray<any> => [...(podSpec(o).initContainers ?? []), ...podSpec(o).containers]
const seconds = (conf: string, key: string): number => {
  const m = new RegExp(`^${key}:\\s*(\\d+)s\\s*$`, "m").exec(conf)
  if (m === null) throw new Error(`${key} not set in nats.conf`)
  return Number(m[1])
}
const natsConf = (objects: ReadonlyArray<K8sObject>) => byKind(objects, "ConfigMap").find((c) => c.metadata.name.startsWith("nats-config-"))!.data

describe.each(Object.entries(overlays))("overlay %s", (_, objects) => {
  it("renders objects that all validate against the Kubernetes and KEDA schemas", () => {
    expect(objects.length).toBeGreaterThan(10)
    for (const o of objects) validateAgainstSchema(o)
    // Everything lands in one namespace (KEDA's monitoring endpoint names it).
    for (const o of objects.filter((x) => x.kind !== "Namespace")) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe("conveyor")
  })

  it("admits to the NATS monitoring port only the nats pods, and KEDA's namespace where KEDA scales", () => {
    const natsLabels = named(objects, "StatefulSet", "nats").spec.template.metadata.labels as Record<string, string>
    const selects = (sel: { matchLabels?: Record<string, string> }) => Object.entries(sel.matchLabels ?? {}).every(([k, v]) => natsLabels[k] === v)
    const policies = byKind(objects, "NetworkPolicy").filter((p) => selects(p.spec.podSelector) && p.spec.policyTypes.includes("Ingress"))
    expect(policies.length).toBeGreaterThan(0)
    const peersOn = (port: number) =>
      policies.flatMap((p) => (p.spec.ingress as Array<any>).filter((r) => r.ports?.some((x: any) => x.port === port)).flatMap((r) => r.from ?? [{ anyone: true }]))
    const monitoring = peersOn(8222)
    const usesKeda = byKind(objects, "ScaledObject").length > 0
    expect(monitoring).toEqual([
      { podSelector: { matchLabels: { "app.kubernetes.io/name": "nats" } } },
      ...(usesKeda ? [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "keda" } } }] : [])
    ])
    // Clients come from this namespace; every rule names its peers (no rule admits everyone).
    expect(peersOn(4222)).toEqual([{ podSelector: {} }])
    for (const p of policies) for (const r of p.spec.ingress) expect(r.from, p.metadata.name).toBeDefined()
  })

  it("pins every image to a version, never latest", () => {
    for (const w of workloads(objects)) {
      for (const c of containers(w)) {
        expect(c.image, `${w.metadata.name}/${c.name}`).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/)
      }
    }
  })

  it("gives every container requests and limits for cpu and memory", () => {
    for (const w of workloads(objects)) {
      for (const c of containers(w)) {
        for (const k of ["requests", "limits"]) {
          expect(c.resources?.[k]?.cpu, `${w.metadata.name}/${c.name} ${k}.cpu`).toBeDefined()
          expect(c.resources?.[k]?.memory, `${w.metadata.name}/${c.name} ${k}.memory`).toBeDefined()
        }
      }
    }
  })

  it("probes readiness on /readyz and liveness on /healthz for every app, with a grace period above the shutdown grace", () => {
    for (const app of services) {
      const d = named(objects, "Deployment", app)
      const c = podSpec(d).containers[0]
      expect(c.readinessProbe.httpGet.path).toBe("/readyz")
      expect(c.livenessProbe.httpGet.path).toBe("/healthz")
      const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0
      expect(podSpec(d).terminationGracePeriodSeconds).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_SECONDS + preStop + 10)
      expect(podSpec(d).terminationGracePeriodSeconds).toBe(POD_GRACE_SECONDS)
      expect(podSpec(d).securityContext.runAsNonRoot).toBe(true)
    }
    for (const w of byKind(objects, "Deployment").concat(byKind(objects, "StatefulSet"))) {
      for (const c of containers(w)) {
        expect(c.readinessProbe, `${w.metadata.name} readiness`).toBeDefined()
        expect(c.livenessProbe, `${w.metadata.name} liveness`).toBeDefined()
      }
    }
  })

  it("gives every app and NATS a PodDisruptionBudget that selects its pods", () => {
    for (const name of [...services, "nats"]) {
      const pdb = byKind(objects, "PodDisruptionBudget").find((p) => p.metadata.name === name)
      expect(pdb, name).toBeDefined()
      const workload = objects.find((o) => (o.kind === "Deployment" || o.kind === "StatefulSet") && o.metadata.name === name)!
      expect(workload.spec.template.metadata.labels).toMatchObject(pdb!.spec.selector.matchLabels)
    }
  })

  it("takes credentials only from the Secrets: passwords for the apps, their hashes for NATS alone; no Secret objects, no inline values", () => {
    expect(byKind(objects, "Secret")).toEqual([])
    const sensitive = /PASSWORD|BCRYPT|TOKEN|SECRET|CREDS|PASS$|KEY$/i
    for (const w of workloads(objects)) {
      // nats-server holds no password, only hashes; no app sees the hashes.
      const expected = w.metadata.name === "nats" ? SERVER_SECRET : SECRET
      for (const c of containers(w)) {
        const env: ReadonlyArray<any> = c.env ?? []
        const fromSecret = new Set(env.filter((e) => e.valueFrom?.secretKeyRef?.name === expected).map((e) => e.name))
        for (const e of env.filter((x) => sensitive.test(x.name))) {
          if (e.valueFrom !== undefined) {
            expect(e.valueFrom.secretKeyRef?.name, `${w.metadata.name}/${e.name}`).toBe(expected)
          } else {
            // Only the quoted form of a variable that itself comes from the Secret.
            const ref = /^"\$\(([A-Z0-9_]+)\)"$/.exec(e.value)
            expect(ref, `${w.metadata.name}/${e.name} has an inline value`).not.toBeNull()
            expect(fromSecret.has(ref![1]!), `${w.metadata.name}/${e.name}`).toBe(true)
          }
        }
      }
    }
  })

  it("connects each app with its own NATS user, and NATS knows every user's password", () => {
    for (const app of services) {
      const env: ReadonlyArray<any> = podSpec(named(objects, "Deployment", app)).containers[0].env
      expect(env.find((e) => e.name === "NATS_USER").value).toBe(app)
      expect(env.find((e) => e.name === "NATS_PASSWORD").valueFrom.secretKeyRef.key).toBe(app)
      expect(env.find((e) => e.name === "CONVEYOR_ENSURE_TOPOLOGY").value).toBe("false")
      expect(env.find((e) => e.name === "NATS_INBOX_PREFIX").value).toBe(natsUsers().find((u) => u.name === app)!.inboxPrefix)
    }
    const job = podSpec(named(objects, "Job", "conveyor-provision")).containers[0]
    expect(job.env.find((e: any) => e.name === "NATS_USER").value).toBe(PROVISIONING_USER)
    expect(job.env.find((e: any) => e.name === "NATS_INBOX_PREFIX").value).toBe(`_INBOX_${PROVISIONING_USER}`)
    const natsEnv: ReadonlyArray<any> = podSpec(named(objects, "StatefulSet", "nats")).containers[0].env
    for (const u of natsUsers()) {
      expect(natsEnv.find((e) => e.name === `SECRET_${u.passwordHashEnv}`)?.valueFrom.secretKeyRef).toEqual({ name: SERVER_SECRET, key: u.name })
      expect(natsEnv.find((e) => e.name === u.passwordHashEnv)?.value).toBe(`"$(SECRET_${u.passwordHashEnv})"`)
    }
    expect(natsConf(objects)["auth.conf"]).toBe(authConf())
  })

  it("runs NATS as a StatefulSet behind a headless service, with lame-duck shutdown inside the grace period", () => {
    const sts = named(objects, "StatefulSet", "nats")
    const headless = named(objects, "Service", sts.spec.serviceName)
    expect(headless.spec.clusterIP).toBe("None")
    const conf = natsConf(objects)["nats.conf"] as string
    const lameDuck = seconds(conf, "lame_duck_duration") + seconds(conf, "lame_duck_grace_period")
    expect(podSpec(sts).terminationGracePeriodSeconds).toBe(NATS_POD_GRACE_SECONDS)
    expect(NATS_POD_GRACE_SECONDS).toBeGreaterThan(lameDuck)
    expect(podSpec(sts).containers[0].lifecycle.preStop.exec.command.join(" ")).toContain("--signal ldm=")
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBeDefined()
  })

  it("provisions with a Job, and runs Jaeger with OTLP on 4317/4318 and the UI on 16686", () => {
    const job = podSpec(named(objects, "Job", "conveyor-provision")).containers[0]
    expect(job.args.slice(0, 2)).toEqual(["topology", "apply"])
    const ports = named(objects, "Service", "jaeger").spec.ports.map((p: any) => p.port)
    expect(ports).toEqual(expect.arrayContaining([4317, 4318, 16686]))
  })
})

describe("the schema validator", () => {
  it("rejects what the API server would: a wrong type, a missing required field, an unknown kind", () => {
    const d = structuredClone(named(overlays.dev, "Deployment", "gateway"))
    podSpec(d).containers[0].ports[0].containerPort = "8080"
    expect(() => validateAgainstSchema(d)).toThrow(/containerPort must be integer/)
    const noSelector = structuredClone(named(overlays.dev, "Deployment", "gateway"))
    delete noSelector.spec.selector
    expect(() => validateAgainstSchema(noSelector)).toThrow(/selector/)
    expect(() => validateAgainstSchema({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } })).toThrow(/no schema/)
  })
})

describe("overlay differences", () => {
  it("dev: one NATS node, default fsync, CPU autoscalers for the consumers", () => {
    const dev = overlays.dev
    expect(named(dev, "StatefulSet", "nats").spec.replicas).toBe(1)
    expect(natsConf(dev)["nats.conf"]).not.toMatch(/^\s*sync_interval/m)
    expect(byKind(dev, "HorizontalPodAutoscaler").map((h) => h.spec.scaleTargetRef.name).sort()).toEqual([...consumerApps].sort())
    expect(byKind(dev, "ScaledObject")).toEqual([])
  })

  it("prod: a three-node JetStream cluster on persistent volumes, fsync always, streams with three replicas", () => {
    const prod = overlays.prod
    const sts = named(prod, "StatefulSet", "nats")
    expect(sts.spec.replicas).toBe(3)
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("50Gi")
    const conf = natsConf(prod)["nats.conf"] as string
    expect(conf).toMatch(/^\s*sync_interval: always/m)
    for (const i of [0, 1, 2]) expect(conf).toContain(`nats://nats-${i}.${sts.spec.serviceName}:6222`)

    const job = podSpec(named(prod, "Job", "conveyor-provision"))
    const file = job.containers[0].args[job.containers[0].args.indexOf("--file") + 1] as string
    const mount = job.containers[0].volumeMounts.find((m: any) => file.startsWith(m.mountPath))
    const volume = job.volumes.find((v: any) => v.name === mount.name)
    const topology = JSON.parse(named(prod, "ConfigMap", volume.configMap.name).data["topology.json"])
    expect(topology.streams.map((s: any) => s.name)).toEqual(orderTopology.streams.map((s) => s.name))
    expect([...topology.streams, ...topology.buckets].every((r: any) => r.replicas === PROD_REPLICAS)).toBe(true)
  })

  it("prod: each consumer scaled by KEDA on its own durable's lag", () => {
    const scaled = byKind(overlays.prod, "ScaledObject")
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual([...consumerApps].sort())
    for (const s of scaled) {
      const app = s.spec.scaleTargetRef.name as (typeof consumerApps)[number]
      named(overlays.prod, "Deployment", app)
      const trigger = s.spec.triggers[0]
      expect(trigger.type).toBe("nats-jetstream")
      expect({ stream: trigger.metadata.stream, durable: trigger.metadata.consumer }).toEqual(appAccess[app].consumes[0])
      // An autoscaled Deployment leaves replicas to the autoscaler, or each apply would reset them.
      expect(named(overlays.prod, "Deployment", app).spec.replicas).toBeUndefined()
    }
    expect(byKind(overlays.prod, "HorizontalPodAutoscaler")).toEqual([])
  })
})
