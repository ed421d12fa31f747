import { Config, ConfigError, Either, Option, Redacted } from "effect"

export type Role = "viewer" | "operator"

export interface ConsoleUser {
  readonly name: string
  readonly role: Role
  readonly password: Redacted.Redacted<string>
}

export interface ReadyzTarget {
  readonly name: string
  readonly url: string
}

export interface ConsoleConfig {
  readonly host: string
  readonly port: number
  readonly users: ReadonlyArray<ConsoleUser>
  /** Set the cookie's `Secure` flag (serve behind TLS). */
  readonly secureCookie: boolean
  readonly sessionTtlMs: number
  /** Apps whose `/readyz` the overview shows. */
  readonly readyz: ReadonlyArray<ReadyzTarget>
  /** Jaeger's UI, e.g. http://localhost:16686: trace links go to `<base>/trace/<id>`. */
  readonly jaegerUrl: string | undefined
  readonly deadLetterStream: string
  readonly workflowBucket: string
}

import { DEFAULT_CONSOLE_PORT } from "./port.js"

export { DEFAULT_CONSOLE_PORT }

const invalid = (message: string) => Either.left(ConfigError.InvalidData([], message))

const portVariable = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const p = Number(raw.trim())
      return /^\d+$/.test(raw.trim()) && p <= 65535 ? Either.right(p) : invalid("must be a TCP port, 0 to 65535 (0 picks a free one)")
    })
  )

/** CONSOLE_PORT, else HTTP_PORT (what the images and manifests set for every app), else 8090. */
const port = Config.all([Config.option(portVariable("CONSOLE_PORT")), Config.option(portVariable("HTTP_PORT"))]).pipe(
  Config.map(([own, shared]) => Option.getOrElse(Option.orElse(own, () => shared), () => DEFAULT_CONSOLE_PORT))
)

/** `name=url,name=url`: the apps whose readiness the overview shows. */
export const parseReadyz = (raw: string): Either.Either<ReadonlyArray<ReadyzTarget>, string> => {
  const out: Array<ReadyzTarget> = []
  for (const part of raw.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const at = part.indexOf("=")
    const name = at > 0 ? part.slice(0, at).trim() : ""
    const url = at > 0 ? part.slice(at + 1).trim() : ""
    if (name === "" || !/^https?:\/\/[^\s]+$/i.test(url)) return Either.left(`expected name=http://host:port/readyz, comma-separated; got '${part}'`)
    out.push({ name, url })
  }
  return Either.right(out)
}

const readyz = Config.string("CONSOLE_READYZ_URLS").pipe(
  Config.mapOrFail((raw) => Either.mapLeft(parseReadyz(raw), (m) => ConfigError.InvalidData([], m))),
  Config.withDefault([] as ReadonlyArray<ReadyzTarget>)
)

const password = (name: string) =>
  Config.option(Config.redacted(name)).pipe(
    Config.mapOrFail((p) =>
      Option.isSome(p) && Redacted.value(p.value).length < 8 ? invalid("must be at least 8 characters") : Either.right(p)
    )
  )

const users = Config.all({
  operatorName: Config.string("CONSOLE_OPERATOR_USER").pipe(Config.withDefault("operator")),
  operator: password("CONSOLE_OPERATOR_PASSWORD"),
  viewerName: Config.string("CONSOLE_VIEWER_USER").pipe(Config.withDefault("viewer")),
  viewer: password("CONSOLE_VIEWER_PASSWORD")
}).pipe(
  Config.mapOrFail(({ operatorName, operator, viewerName, viewer }) => {
    const list: Array<ConsoleUser> = []
    if (Option.isSome(operator)) list.push({ name: operatorName, role: "operator", password: operator.value })
    if (Option.isSome(viewer)) list.push({ name: viewerName, role: "viewer", password: viewer.value })
    if (list.length === 0) {
      return Either.left(ConfigError.MissingData(["CONSOLE_OPERATOR_PASSWORD"], "set CONSOLE_OPERATOR_PASSWORD and/or CONSOLE_VIEWER_PASSWORD: the console has no anonymous access"))
    }
    if (list.length === 2 && operatorName === viewerName) return invalid("CONSOLE_OPERATOR_USER and CONSOLE_VIEWER_USER must differ")
    return Either.right(list)
  })
)

/**
 * Everything the console reads from the environment. It binds 127.0.0.1 unless told otherwise: an
 * operator tool that can replay and purge is reached through a tunnel or a proxy, not exposed.
 */
export const ConsoleConfig: Config.Config<ConsoleConfig> = Config.all({
  host: Config.string("CONSOLE_HOST").pipe(Config.withDefault("127.0.0.1")),
  port,
  users,
  secureCookie: Config.boolean("CONSOLE_SECURE_COOKIE").pipe(Config.withDefault(false)),
  sessionTtlMs: Config.integer("CONSOLE_SESSION_TTL_MS").pipe(Config.withDefault(8 * 3_600_000)),
  readyz,
  jaegerUrl: Config.option(Config.string("CONSOLE_JAEGER_URL")).pipe(Config.map((o) => Option.getOrUndefined(Option.map(o, (u) => u.replace(/\/+$/, ""))))),
  deadLetterStream: Config.string("CONSOLE_DLQ_STREAM").pipe(Config.withDefault("DEAD_LETTERS")),
  workflowBucket: Config.string("CONSOLE_WORKFLOW_BUCKET").pipe(Config.withDefault("order-workflows"))
})
