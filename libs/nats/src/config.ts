import { Config, Duration, Option, type Redacted } from "effect"

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

const url = Config.string("URL").pipe(
  Config.withDefault("nats://127.0.0.1:4222"),
  Config.map((s) => s.split(",").map((u) => u.trim()).filter((u) => u.length > 0)),
  Config.validate({ message: "NATS_URL must list at least one nats:// or tls:// URL", validation: (a) => a.length > 0 && a.every((u) => /^(nats|tls|wss?):\/\/|^[\w.-]+:\d+$/.test(u)) })
)

/** Reads `NATS_URL`, `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_CREDS`, `NATS_TLS_CA`, `NATS_INBOX_PREFIX`, `NATS_CONNECT_TIMEOUT`, `NATS_RECONNECT_FOR`, `NATS_NAME`. */
export const natsConfig: Config.Config<NatsConfig> = Config.nested(
  Config.all({
    servers: url,
    name: Config.string("NAME").pipe(Config.withDefault("conveyor")),
    user: Config.option(Config.string("USER")),
    password: Config.option(Config.redacted("PASSWORD")),
    token: Config.option(Config.redacted("TOKEN")),
    credsFile: Config.option(Config.string("CREDS")),
    tlsCaFile: Config.option(Config.string("TLS_CA")),
    inboxPrefix: Config.option(
      Config.string("INBOX_PREFIX").pipe(
        Config.validate({ message: "NATS_INBOX_PREFIX must be a subject without wildcards or spaces", validation: (p) => /^[^\s*>]+$/.test(p) && !p.endsWith(".") })
      )
    ),
    connectTimeout: Config.duration("CONNECT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
    reconnectFor: Config.duration("RECONNECT_FOR").pipe(Config.withDefault(Duration.minutes(2)))
  }),
  "NATS"
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
