import { inboxPrefixOf, natsUsers, PROVISIONING_USER } from "@conveyor/auth"
import { type AppName, appAccess, appNames, appNodeOptions } from "@conveyor/domain"

/**
 * Kubernetes objects derived from the domain's data (which apps exist, what each consumes, which
 * NATS user each has), so the manifests cannot drift from the code. Written as YAML by
 * generate.ts; the kustomizations, Jaeger and the overlays' patches are hand-written.
 */

export const NAMESPACE = "conveyor"
/** The NATS passwords, one key per user: each app gets its own. */
export const SECRET = "conveyor-nats-users"
/** Their bcrypt hashes, one key per user: only nats-server gets them. */
export const SERVER_SECRET = "conveyor-nats-server"
export const IMAGE_TAG = "0.1.0"
export const NATS_IMAGE = "nats:2.15.1-alpine"
export const JAEGER_IMAGE = "jaegertracing/jaeger:2.21.0"
export const HTTP_PORT = 8080

/**
 * The runtime's shutdown: stop pulling, let in-flight handlers finish within the consumer's
 * shutdown grace (10 s, `runJetStreamConsumer`'s default), drain the connection, flush spans.
 * The pod's grace period must be longer, or Kubernetes SIGKILLs a handler mid-way.
 */
export const SHUTDOWN_GRACE_SECONDS = 10
export const POD_GRACE_SECONDS = 30
/** nats-server: lame_duck_duration (30 s) plus its grace period, then the pod may go. */
export const NATS_POD_GRACE_SECONDS = 60

type Obj = Record<string, unknown>

const labels = (name: string) => ({ "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "conveyor" })
const selector = (name: string) => ({ matchLabels: { "app.kubernetes.io/name": name } })
export const image = (app: AppName) => `conveyor/${app}:${IMAGE_TAG}`

const secretEnv = (name: string, key: string, secret = SECRET) => ({ name, valueFrom: { secretKeyRef: { name: secret, key } } })

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] }
}
const restrictedPod = (uid: number) => ({ runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, seccompProfile: { type: "RuntimeDefault" } })

/** Connection and telemetry settings every app reads (NATS_*, HTTP_PORT, OTEL_*). */
export const appEnv = (app: AppName, natsUser: string = app) => [
  { name: "NATS_URL", value: "nats://nats:4222" },
  { name: "NATS_NAME", value: app },
  { name: "NATS_USER", value: natsUser },
  secretEnv("NATS_PASSWORD", natsUser),
  // Replies arrive below this prefix, the only subjects the user may subscribe to.
  { name: "NATS_INBOX_PREFIX", value: inboxPrefixOf(natsUser) },
  { name: "HTTP_PORT", value: String(HTTP_PORT) },
  // The provisioning Job owns the topology; the apps' users could not create it anyway.
  { name: "CONVEYOR_ENSURE_TOPOLOGY", value: "false" },
  { name: "OTEL_SERVICE_NAME", value: app },
  { name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: "http://jaeger:4318" },
  // V8's heap under the container's memory limit with room for buffers (appNodeOptions says why).
  { name: "NODE_OPTIONS", value: appNodeOptions.join(" ") }
]

/**
 * The web console's own settings: it listens on every interface of its pod (reached through its
 * Service with `kubectl port-forward`, never exposed by an Ingress here), and its login passwords
 * are keys of the same Secret as the NATS passwords (deploy/scripts/secret.ts writes them).
 */
export const CONSOLE_LOGIN_KEYS = { operator: "console-operator-password", viewer: "console-viewer-password" } as const
const consoleEnv = [
  // HTTP_PORT (appEnv) is its port too.
  { name: "CONSOLE_HOST", value: "0.0.0.0" },
  secretEnv("CONSOLE_OPERATOR_PASSWORD", CONSOLE_LOGIN_KEYS.operator),
  { name: "CONSOLE_VIEWER_PASSWORD", valueFrom: { secretKeyRef: { name: SECRET, key: CONSOLE_LOGIN_KEYS.viewer, optional: true } } },
  { name: "CONSOLE_JAEGER_URL", value: "http://localhost:16686" }
]

/** Apps that run as Deployments; ctl runs as the provisioning Job. */
export const services: ReadonlyArray<AppName> = appNames.filter((a) => a !== "ctl")
/** Apps that pull from a durable: the ones scaled on consumer lag. */
export const consumerApps: ReadonlyArray<AppName> = services.filter((a) => appAccess[a].consumes.length > 0)

const deployment = (app: AppName): Obj => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: app, labels: labels(app) },
  spec: {
    // Consumers leave replicas to their autoscaler (KEDA or the HPA component); the gateway keeps
    // two; the console one (its sessions and replay jobs live in its memory).
    ...(consumerApps.includes(app) ? {} : { replicas: app === "console" ? 1 : 2 }),
    selector: selector(app),
    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    template: {
      metadata: { labels: labels(app) },
      spec: {
        terminationGracePeriodSeconds: POD_GRACE_SECONDS,
        automountServiceAccountToken: false,
        securityContext: restrictedPod(1000),
        containers: [
          {
            name: app,
            image: image(app),
            ports: [{ name: "http", containerPort: HTTP_PORT }],
            env: app === "console" ? [...appEnv(app), ...consoleEnv] : appEnv(app),
            startupProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2, failureThreshold: 30 },
            readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5, failureThreshold: 2 },
            livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
            ...(app === "gateway"
              ? // Endpoints are removed asynchronously: keep serving a few seconds after the pod is marked terminating.
                { lifecycle: { preStop: { sleep: { seconds: 5 } } } }
              : {}),
            resources: { requests: { cpu: "100m", memory: "192Mi" }, limits: { cpu: "1", memory: "384Mi" } },
            securityContext: restrictedContainer
          }
        ]
      }
    }
  }
})

const pdb = (name: string): Obj => ({
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: { name, labels: labels(name) },
  // One pod at a time: a drained consumer's messages wait in its durable, nothing is lost.
  spec: { maxUnavailable: 1, selector: selector(name) }
})

const service = (name: string): Obj => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, labels: labels(name) },
  spec: { selector: selector(name).matchLabels, ports: [{ name: "http", port: 80, targetPort: "http" }] }
})

export const appObjects = (): ReadonlyArray<Obj> => [
  ...services.flatMap((app) => [deployment(app), pdb(app)]),
  service("gateway"),
  // `kubectl -n conveyor port-forward svc/console 8090:80`, then http://127.0.0.1:8090
  service("console")
]

export const provisionJob = (): Obj => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "conveyor-provision", labels: labels("conveyor-provision") },
  spec: {
    // Retries while NATS starts; `topology apply` is idempotent.
    backoffLimit: 20,
    template: {
      metadata: { labels: labels("conveyor-provision") },
      spec: {
        restartPolicy: "OnFailure",
        automountServiceAccountToken: false,
        securityContext: restrictedPod(1000),
        containers: [
          {
            name: "provision",
            image: image("ctl"),
            args: ["topology", "apply"],
            env: [
              ...appEnv("ctl", PROVISIONING_USER).filter((e) => !["HTTP_PORT", "NATS_NAME", "CONVEYOR_ENSURE_TOPOLOGY"].includes(e.name)),
              { name: "NATS_NAME", value: "conveyor-provision" },
              { name: "NATS_CONNECT_TIMEOUT", value: "2 minutes" }
            ],
            resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "384Mi" } },
            securityContext: restrictedContainer
          }
        ]
      }
    }
  }
})

const natsPorts = [
  { name: "client", containerPort: 4222 },
  { name: "cluster", containerPort: 6222 },
  { name: "monitor", containerPort: 8222 }
]

/**
 * nats-server reads each password variable as a config value, so it gets the bcrypt hash in
 * double quotes: the raw hash first, then the quoted form through Kubernetes' $(VAR) expansion.
 */
export const natsPasswordEnv = () =>
  natsUsers().flatMap((u) => [
    secretEnv(`SECRET_${u.passwordHashEnv}`, u.name, SERVER_SECRET),
    { name: u.passwordHashEnv, value: `"$(SECRET_${u.passwordHashEnv})"` }
  ])

export const natsObjects = (): ReadonlyArray<Obj> => [
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "nats", labels: labels("nats") },
    spec: {
      selector: selector("nats").matchLabels,
      ports: [
        { name: "client", port: 4222, targetPort: "client" },
        { name: "monitor", port: 8222, targetPort: "monitor" }
      ]
    }
  },
  {
    // Stable per-pod DNS names for cluster routes and for KEDA to reach a stream's leader.
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "nats-headless", labels: labels("nats") },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: selector("nats").matchLabels,
      ports: natsPorts.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name }))
    }
  },
  {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "nats", labels: labels("nats") },
    spec: {
      serviceName: "nats-headless",
      replicas: 1,
      // Cluster members must start together to elect JetStream leaders.
      podManagementPolicy: "Parallel",
      selector: selector("nats"),
      template: {
        metadata: { labels: labels("nats") },
        spec: {
          terminationGracePeriodSeconds: NATS_POD_GRACE_SECONDS,
          automountServiceAccountToken: false,
          securityContext: { ...restrictedPod(1000), fsGroup: 1000 },
          containers: [
            {
              name: "nats",
              image: NATS_IMAGE,
              args: ["--config", "/etc/nats/nats.conf"],
              ports: natsPorts,
              env: [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "GOMEMLIMIT", value: "900MiB" },
                ...natsPasswordEnv()
              ],
              lifecycle: {
                // Lame duck: stop taking clients and spread the disconnects over lame_duck_duration;
                // the hook waits so SIGTERM does not cut it short (the server exits on its own).
                preStop: { exec: { command: ["/bin/sh", "-c", "nats-server --signal ldm=/var/run/nats/nats.pid && sleep 45"] } }
              },
              startupProbe: { httpGet: { path: "/healthz", port: "monitor" }, periodSeconds: 2, failureThreshold: 90 },
              readinessProbe: { httpGet: { path: "/healthz?js-server-only=true", port: "monitor" }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: "/healthz?js-enabled-only=true", port: "monitor" }, periodSeconds: 10, failureThreshold: 3 },
              resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "1Gi" } },
              securityContext: restrictedContainer,
              volumeMounts: [
                { name: "config", mountPath: "/etc/nats", readOnly: true },
                { name: "data", mountPath: "/data" },
                { name: "pid", mountPath: "/var/run/nats" }
              ]
            }
          ],
          volumes: [
            { name: "config", configMap: { name: "nats-config" } },
            { name: "pid", emptyDir: {} }
          ]
        }
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "5Gi" } } }
        }
      ]
    }
  },
  pdb("nats"),
  natsNetworkPolicy()
]

/** The namespace KEDA runs in (its install default): its operator polls NATS monitoring. */
export const KEDA_NAMESPACE = "keda"

/**
 * Who reaches the nats pods: clients (4222) from this namespace, cluster routes (6222) and the
 * monitoring port (8222) from the nats pods only. Monitoring has no authentication and lists
 * every connection's subscriptions, inboxes included (/connz?subs=1): whoever reads it could aim
 * a push consumer at an app's pull inbox. The KEDA component adds KEDA's own rule; the kubelet's
 * probes come from the node, which NetworkPolicies do not filter.
 */
const natsNetworkPolicy = (): Obj => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "nats", labels: labels("nats") },
  spec: {
    podSelector: selector("nats"),
    policyTypes: ["Ingress"],
    ingress: [
      { from: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: 4222 }] },
      { from: [{ podSelector: selector("nats") }], ports: [{ protocol: "TCP", port: 6222 }, { protocol: "TCP", port: 8222 }] }
    ]
  }
})

/** With KEDA: its namespace may read NATS monitoring (the nats-jetstream scaler polls /jsz). */
export const kedaMonitoringPolicy = (): Obj => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "nats-monitoring-keda", labels: labels("nats") },
  spec: {
    podSelector: selector("nats"),
    policyTypes: ["Ingress"],
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": KEDA_NAMESPACE } } }], ports: [{ protocol: "TCP", port: 8222 }] }]
  }
})

/** KEDA: scale each consumer on its durable's pending messages, read from NATS monitoring. */
export const scaledObjects = (): ReadonlyArray<Obj> =>
  consumerApps.map((app) => {
    const { stream, durable } = appAccess[app].consumes[0]!
    return {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: app, labels: labels(app) },
      spec: {
        scaleTargetRef: { name: app },
        minReplicaCount: 1,
        // Past this the durable's max_ack_pending (256), not the pod count, bounds throughput.
        maxReplicaCount: 8,
        pollingInterval: 15,
        cooldownPeriod: 120,
        triggers: [
          {
            type: "nats-jetstream",
            metadata: {
              // Through the headless service: in a cluster KEDA asks the consumer's leader by its
              // server name (the pod name) under this host.
              natsServerMonitoringEndpoint: `nats-headless.${NAMESPACE}.svc.cluster.local:8222`,
              account: "$G",
              stream,
              consumer: durable,
              lagThreshold: "100",
              activationLagThreshold: "1"
            }
          }
        ]
      }
    }
  })

/** The fallback without KEDA: CPU-based, which follows lag only loosely. */
export const cpuAutoscalers = (): ReadonlyArray<Obj> =>
  consumerApps.map((app) => ({
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: app, labels: labels(app) },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: app },
      minReplicas: 1,
      maxReplicas: 8,
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }]
    }
  }))

export const jaegerObjects = (): ReadonlyArray<Obj> => [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "jaeger", labels: labels("jaeger") },
    spec: {
      // In-memory storage: one replica, traces are lost on restart. Point Jaeger at a real
      // storage backend (its --config) for anything beyond a demo.
      replicas: 1,
      selector: selector("jaeger"),
      template: {
        metadata: { labels: labels("jaeger") },
        spec: {
          automountServiceAccountToken: false,
          securityContext: restrictedPod(10001),
          containers: [
            {
              name: "jaeger",
              image: JAEGER_IMAGE,
              ports: [
                { name: "otlp-grpc", containerPort: 4317 },
                { name: "otlp-http", containerPort: 4318 },
                { name: "ui", containerPort: 16686 }
              ],
              readinessProbe: { tcpSocket: { port: "otlp-http" }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: "ui" }, periodSeconds: 10, failureThreshold: 3 },
              resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
            }
          ]
        }
      }
    }
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "jaeger", labels: labels("jaeger") },
    spec: {
      selector: selector("jaeger").matchLabels,
      ports: [
        { name: "otlp-grpc", port: 4317, targetPort: "otlp-grpc" },
        { name: "otlp-http", port: 4318, targetPort: "otlp-http" },
        { name: "ui", port: 16686, targetPort: "ui" }
      ]
    }
  }
]
