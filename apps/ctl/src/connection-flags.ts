import { Options } from "@effect/cli"
import type { Option } from "effect"

/** The connection flags every command takes; each falls back to its `NATS_*` variable. */
export const connectionFlags = {
  url: Options.text("url").pipe(
    Options.withDescription("NATS server URL(s), comma-separated (env NATS_URL; default nats://127.0.0.1:4222)"),
    Options.optional
  ),
  creds: Options.text("creds").pipe(Options.withDescription("credentials file (env NATS_CREDS)"), Options.optional),
  tlsCa: Options.text("tls-ca").pipe(Options.withDescription("CA certificate for TLS (env NATS_TLS_CA)"), Options.optional),
  connectTimeout: Options.text("connect-timeout").pipe(
    Options.withDescription("how long to keep trying to connect, e.g. 2000, 2s or '2 seconds' (env NATS_CONNECT_TIMEOUT; default 5 seconds)"),
    Options.optional
  )
}

export interface ConnectionFlags {
  readonly url: Option.Option<string>
  readonly creds: Option.Option<string>
  readonly tlsCa: Option.Option<string>
  readonly connectTimeout: Option.Option<string>
}
