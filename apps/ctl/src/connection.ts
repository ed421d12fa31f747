// Modules, not the package: the package index loads OpenTelemetry and every consumer (start-up time).
import { natsConfig, type NatsConfig } from "@conveyor/nats/config"
import { NatsConnection, NatsConnectionLive } from "@conveyor/nats/connection"
import { ConfigProvider, Effect, Option } from "effect"
import type { ConnectionFlags } from "./connection-flags.js"
import { existsSync } from "node:fs"
import { ctlError, CtlError, ExitCode, fromLibraryError } from "./errors.js"
import { runFrom } from "./lazy.js"

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
    Effect.catchAll((e) =>
      runFrom(() => import("./config-error.js"), ({ describeConfigError }) =>
        Effect.fail(ctlError(ExitCode.usage, [...flagOf].reduce((text, [variable, flag]) => (given.has(variable) ? text.replaceAll(variable, flag) : text), describeConfigError(e))))
      )
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
