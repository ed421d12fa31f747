import { Options } from "@effect/cli"
import { describeConfigError, natsConfig, NatsConnection, NatsConnectionLive, type NatsConfig } from "@conveyor/nats"
import { ConfigProvider, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { ctlError, CtlError, ExitCode, fromLibraryError } from "./errors.js"

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

const flagOf = new Map([["NATS_URL", "--url"], ["NATS_CREDS", "--creds"], ["NATS_TLS_CA", "--tls-ca"], ["NATS_CONNECT_TIMEOUT", "--connect-timeout"]])

/**
 * Flags first, then the environment, then CLI defaults, all read through the apps' own `natsConfig`
 * so a flag is validated exactly like the variable it replaces. User, password and token come from
 * the environment only: a secret on the command line ends up in shell history and `ps`.
 */
export const resolveNatsConfig = (flags: ConnectionFlags): Effect.Effect<NatsConfig, CtlError> => {
  const given = new Map<string, string>()
  Option.map(flags.url, (v) => given.set("NATS_URL", v))
  Option.map(flags.creds, (v) => given.set("NATS_CREDS", v))
  Option.map(flags.tlsCa, (v) => given.set("NATS_TLS_CA", v))
  Option.map(flags.connectTimeout, (v) => given.set("NATS_CONNECT_TIMEOUT", v))
  // A CLI should fail fast: 5 s instead of the services' 30 s start-up window.
  const defaults = new Map([["NATS_CONNECT_TIMEOUT", "5 seconds"], ["NATS_RECONNECT_FOR", "5 seconds"], ["NATS_NAME", "conveyor-ctl"]])
  const provider = ConfigProvider.fromMap(given, { pathDelim: "_" }).pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
    ConfigProvider.orElse(() => ConfigProvider.fromMap(defaults, { pathDelim: "_" }))
  )
  return natsConfig.pipe(
    Effect.withConfigProvider(provider),
    // The flag's name when the value came from a flag, the variable's otherwise.
    Effect.mapError((e) =>
      ctlError(ExitCode.usage, [...flagOf].reduce((text, [variable, flag]) => (given.has(variable) ? text.replaceAll(variable, flag) : text), describeConfigError(e)))
    ),
    Effect.tap((config) => {
      for (const [label, file] of [["credentials file", config.credsFile], ["TLS CA file", config.tlsCaFile]] as const) {
        if (Option.isSome(file) && !existsSync(file.value)) return Effect.fail(ctlError(ExitCode.usage, `${label} not found: ${file.value}`))
      }
      return Effect.void
    })
  )
}

/** Runs `effect` with a connection built from the flags; the connection is drained when it ends. */
export const withNats = <A, R>(
  flags: ConnectionFlags,
  effect: Effect.Effect<A, CtlError, R | NatsConnection>
): Effect.Effect<A, CtlError, Exclude<R, NatsConnection>> =>
  Effect.flatMap(resolveNatsConfig(flags), (config) =>
    effect.pipe(Effect.provide(NatsConnectionLive(config)), Effect.mapError(fromLibraryError))
  ) as Effect.Effect<A, CtlError, Exclude<R, NatsConnection>>
