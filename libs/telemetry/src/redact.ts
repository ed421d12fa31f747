import { Redacted } from "effect"

/**
 * Logs leave the process (stdout → collector → whoever can search logs), so credentials must never reach
 * them. Keys are compared with separators and case removed, so `natsPassword`, `NATS_PASSWORD` and
 * `nats-password` all match; over-redacting a harmless `tokenCount` is the accepted price.
 */
const secretKeyParts = ["password", "passwd", "secret", "token", "authorization", "apikey", "nkey", "creds", "credential", "cookie", "privatekey", "jwt", "seed"]
const secretKeys = new Set(["pass", "pwd", "auth"])

export const REDACTED = "[REDACTED]"

const normalize = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, "")

export const isSecretKey = (key: string, extraKeys: ReadonlySet<string> = new Set()): boolean => {
  const k = normalize(key)
  return secretKeys.has(k) || extraKeys.has(k) || secretKeyParts.some((part) => k.includes(part))
}

const stringPatterns: ReadonlyArray<readonly [RegExp, string]> = [
  // user:password@ in connection URLs (nats://app:s3cret@host:4222)
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@/\s]+@/gi, `$1:${REDACTED}@`],
  // a token alone in a NATS URL (nats://s3cret@host:4222)
  [/\b((?:nats|tls|wss?):\/\/)[^:/@\s]+@/gi, `$1${REDACTED}@`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, `$1 ${REDACTED}`],
  // A whole .creds file: the JWT and the nkey seed blocks
  [/-----BEGIN [A-Z ]+-----[\s\S]*?------END [A-Z ]+------/g, REDACTED],
  // NATS nkey seeds (user, account, operator)
  [/\bS[UAO][A-Z2-7]{56}\b/g, REDACTED]
]

export const redactString = (s: string): string => stringPatterns.reduce((acc, [re, by]) => acc.replace(re, by), s)

export interface RedactOptions {
  /** More field names to hide (payload fields marked secret by the domain), matched like the built-ins. */
  readonly keys?: Iterable<string> | undefined
}

/**
 * A copy of `value` fit for logging: values under secret-looking keys become `[REDACTED]`, Effect
 * `Redacted` values (what `Schema.Redacted` decodes to, the way to mark a payload field secret) stay
 * hidden, and credentials inside strings are masked.
 */
export const redact = (value: unknown, options?: RedactOptions): unknown => {
  const extra = new Set([...(options?.keys ?? [])].map(normalize))
  const seen = new WeakSet<object>()
  const go = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return redactString(v)
    if (typeof v === "bigint") return v.toString()
    if (v === null || typeof v !== "object") return v
    if (Redacted.isRedacted(v)) return REDACTED
    if (v instanceof Date) return v.toISOString()
    if (seen.has(v) || depth > 8) return "[Circular or too deep]"
    seen.add(v)
    if (Array.isArray(v)) return v.map((x) => go(x, depth + 1))
    const out: Record<string, unknown> = {}
    if (v instanceof Error) {
      out.name = v.name
      out.message = redactString(v.message)
    }
    const entries = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x] as const) : Object.entries(v)
    for (const [k, x] of entries) out[k] = isSecretKey(k, extra) ? REDACTED : go(x, depth + 1)
    return out
  }
  return go(value, 0)
}
