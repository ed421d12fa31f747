import { Config, ConfigError, Duration, Either, Option, Redacted } from "effect"

/** How to reach NATS. Credentials are `Redacted` so they never reach a log line. */
export interface NatsConfig {
  readonly servers: ReadonlyArray<string>
  readonly name: string
  readonly user: Option.Option<string>
  readonly password: Option.Option<Redacted.Redacted<string>>
  readonly token: Option.Option<Redacted.Redacted<string>>
  readonly credsFile: Option.Option<string>
  readonly tlsCaFile: Option.Option<string>
  /**
   * Subject prefix of this connection's reply inboxes (default `_INBOX`). A per-app prefix lets
   * the server's permissions keep one app from subscribing to another's replies (pulled
   * messages, PubAcks).
   */
  readonly inboxPrefix: Option.Option<string>
  /** Total time start-up keeps retrying before it fails with ConnectionFailed. */
  readonly connectTimeout: Duration.Duration
  /** After a disconnect, how long reconnects are tried before the connection counts as lost. */
  readonly reconnectFor: Duration.Duration
}

/** The servers of `NATS_URL` without credentials, and the credentials some of them carried. */
export interface ParsedServers {
  readonly servers: ReadonlyArray<string>
  readonly user: Option.Option<string>
  readonly password: Option.Option<Redacted.Redacted<string>>
  readonly token: Option.Option<Redacted.Redacted<string>>
}

/**
 * nats.js ignores credentials written into a server URL, and a URL with a password must never be
 * shown, so `nats://user:pass@host` becomes user and password (`nats://token@host` a token) and the
 * server list keeps only scheme, host and port. Errors never repeat the URL itself.
 */
export const parseServers = (raw: string): Either.Either<ParsedServers, string> => {
  const entries = raw.split(",").map((u) => u.trim()).filter((u) => u.length > 0)
  if (entries.length === 0) return Either.left("must list at least one server, e.g. nats://127.0.0.1:4222")
  const servers: Array<string> = []
  const credentials = new Set<string>()
  let parsed: { user?: string; password?: string; token?: string } = {}
  for (const [i, entry] of entries.entries()) {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `nats://${entry}`
    let url: URL
    try {
      url = new URL(withScheme)
    } catch {
      return Either.left(`server ${i + 1} is not a URL (expected nats://host:port, tls://host:port or host:port)`)
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(url.protocol) || url.hostname === "") {
      return Either.left(`server ${i + 1} must be nats://, tls://, ws:// or wss:// with a host`)
    }
    if (url.username !== "" || url.password !== "") {
      const user = decodeURIComponent(url.username)
      const password = decodeURIComponent(url.password)
      parsed = url.password === "" ? { token: user } : { user, password }
      credentials.add(`${user}\u0000${password}`)
    }
    servers.push(`${url.protocol}//${url.host}`)
  }
  if (credentials.size > 1) return Either.left("its servers carry different credentials; give one user (or NATS_USER/NATS_PASSWORD)")
  return Either.right({
    servers,
    user: Option.fromNullable(parsed.user),
    password: Option.map(Option.fromNullable(parsed.password), Redacted.make),
    token: Option.map(Option.fromNullable(parsed.token), Redacted.make)
  })
}

const servers = Config.string("URL").pipe(
  // mapOrFail right on the variable keeps its name in the error
  Config.mapOrFail((raw) => Either.mapLeft(parseServers(raw), (message) => ConfigError.InvalidData([], message))),
  Config.withDefault(Either.getOrThrow(parseServers("nats://127.0.0.1:4222")))
)

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|millis|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?$/i

/** `5000` (milliseconds), `500ms`, `5s`, `5 seconds`, `2m`, `2 minutes`, `1h`. */
export const parseDuration = (raw: string): Option.Option<Duration.Duration> => {
  const match = DURATION.exec(raw.trim())
  if (match === null) return Option.none()
  const n = Number(match[1])
  const unit = (match[2] ?? "ms").toLowerCase()
  const ms = unit.startsWith("h") ? n * 3_600_000 : unit === "m" || unit.startsWith("min") ? n * 60_000 : unit === "s" || unit.startsWith("sec") ? n * 1_000 : n
  return Option.some(Duration.millis(ms))
}

export const durationConfig = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) =>
      Either.fromOption(parseDuration(raw), () => ConfigError.InvalidData([], "must be milliseconds (5000) or a duration (500ms, 5s, 5 seconds, 2m)"))
    )
  )

/** Reads `NATS_URL`, `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_CREDS`, `NATS_TLS_CA`, `NATS_INBOX_PREFIX`, `NATS_CONNECT_TIMEOUT`, `NATS_RECONNECT_FOR`, `NATS_NAME`. */
export const natsConfig: Config.Config<NatsConfig> = Config.nested(
  Config.all({
    parsed: servers,
    name: Config.string("NAME").pipe(Config.withDefault("conveyor")),
    user: Config.option(Config.string("USER")),
    password: Config.option(Config.redacted("PASSWORD")),
    token: Config.option(Config.redacted("TOKEN")),
    credsFile: Config.option(Config.string("CREDS")),
    tlsCaFile: Config.option(Config.string("TLS_CA")),
    inboxPrefix: Config.option(
      Config.string("INBOX_PREFIX").pipe(
        Config.mapOrFail((p) => (/^[^\s*>]+$/.test(p) && !p.endsWith(".") ? Either.right(p) : Either.left(ConfigError.InvalidData([], "must be a subject without wildcards or spaces"))))
      )
    ),
    connectTimeout: durationConfig("CONNECT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
    reconnectFor: durationConfig("RECONNECT_FOR").pipe(Config.withDefault(Duration.minutes(2)))
  }),
  "NATS"
).pipe(
  Config.mapOrFail(({ parsed, ...rest }): Either.Either<NatsConfig, ConfigError.ConfigError> => {
    const inUrl = Option.isSome(parsed.user) || Option.isSome(parsed.token)
    const inVariables = Option.isSome(rest.user) || Option.isSome(rest.password) || Option.isSome(rest.token)
    if (inUrl && inVariables) {
      return Either.left(ConfigError.InvalidData(["URL"], "carries credentials and NATS_USER/NATS_PASSWORD/NATS_TOKEN are set too: use one of them"))
    }
    return Either.right({
      ...rest,
      servers: parsed.servers,
      ...(inUrl ? { user: parsed.user, password: parsed.password, token: parsed.token } : {})
    })
  })
)

export const makeNatsConfig = (overrides: Partial<NatsConfig> & Pick<NatsConfig, "servers">): NatsConfig => ({
  name: "conveyor",
  user: Option.none(),
  password: Option.none(),
  token: Option.none(),
  credsFile: Option.none(),
  tlsCaFile: Option.none(),
  inboxPrefix: Option.none(),
  connectTimeout: Duration.seconds(30),
  reconnectFor: Duration.minutes(2),
  ...overrides
})
