/** Demo settings: flags win over the environment. */
export interface DemoOptions {
  readonly orders: number
  /** Probability that a capture fails transiently (retried). */
  readonly failureRate: number
  /** Orders in flight at once: each slot places its next order when the previous one finished. */
  readonly concurrency: number
  /** Give up waiting for orders to finish after this long. */
  readonly timeoutMs: number
  /** Run on a local three-node cluster (replicas 3) and kill and restart one node mid-run. */
  readonly cluster: boolean
}

export const usage = `npm run demo -- [--orders N] [--failure-rate R] [--concurrency C] [--timeout-ms T] [--cluster]

  --orders N         orders to drive (env DEMO_ORDERS, default 3000)
  --failure-rate R   probability 0..1 that a payment capture fails transiently (env DEMO_FAILURE_RATE, default 0.2)
  --concurrency C    orders in flight at once (env DEMO_CONCURRENCY, default 64)
  --timeout-ms T     how long to wait for every order to finish (env DEMO_TIMEOUT_MS, default 180000)
  --cluster          a local three-node JetStream cluster, topology at replicas 3; a third of the way
                     through, the node leading the events stream and the workflow bucket is SIGKILLed,
                     then restarted (env DEMO_CLUSTER=true)

NATS_URL set: use that server instead of starting a local nats-server. OTEL_EXPORTER_OTLP_ENDPOINT set
(e.g. http://localhost:4318): spans go to Jaeger, and the printed trace id opens there.`

export class UsageError extends Error {}

export const parseOptions = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): DemoOptions | "help" => {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--help" || arg === "-h") return "help"
    if (arg === "--cluster") {
      flags.set("cluster", "true")
      continue
    }
    const [name, inline] = arg.split("=", 2) as [string, string | undefined]
    if (!name.startsWith("--")) throw new UsageError(`unexpected argument ${arg}`)
    const value = inline ?? argv[++i]
    if (value === undefined) throw new UsageError(`${name} needs a value`)
    flags.set(name.slice(2), value)
  }
  const known = new Set(["orders", "failure-rate", "concurrency", "timeout-ms", "cluster"])
  for (const name of flags.keys()) if (!known.has(name)) throw new UsageError(`unknown flag --${name}`)
  const number = (flag: string, envName: string, fallback: number, valid: (n: number) => boolean, what: string) => {
    const raw = flags.get(flag) ?? env[envName]
    if (raw === undefined || raw === "") return fallback
    const n = Number(raw)
    if (!Number.isFinite(n) || !valid(n)) throw new UsageError(`--${flag} / ${envName} must be ${what}, got '${raw}'`)
    return n
  }
  return {
    orders: number("orders", "DEMO_ORDERS", 3_000, (n) => Number.isInteger(n) && n >= 20 && n <= 1_000_000, "an integer from 20 to 1000000"),
    failureRate: number("failure-rate", "DEMO_FAILURE_RATE", 0.2, (n) => n >= 0 && n < 0.9, "between 0 and 0.9"),
    concurrency: number("concurrency", "DEMO_CONCURRENCY", 64, (n) => Number.isInteger(n) && n >= 1 && n <= 1_000, "an integer from 1 to 1000"),
    timeoutMs: number("timeout-ms", "DEMO_TIMEOUT_MS", 180_000, (n) => Number.isInteger(n) && n >= 1_000, "at least 1000"),
    cluster: (flags.get("cluster") ?? env["DEMO_CLUSTER"]) === "true"
  }
}
