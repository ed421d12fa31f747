import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { AuthorizationError, connect, credsAuthenticator, UserAuthenticationExpiredError, type ConnectionOptions, type NatsConnection as RawConnection } from "@nats-io/transport-node"
import { Context, Deferred, Duration, Effect, Layer, Option, Redacted, Runtime, Schedule } from "effect"
import { readFileSync } from "node:fs"
import { coalesceWrites } from "./coalesced-writes.js"
import { natsConfig, type NatsConfig } from "./config.js"
import { ConnectionFailed, ConnectionLost, errorText, UnsupportedServer } from "./errors.js"
import { isAtLeast, MINIMUM_SERVER_VERSION } from "./server-version.js"

export interface NatsClient {
  readonly nc: RawConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly url: string
  /** Fails when the connection closes without us closing it; never succeeds before shutdown. */
  readonly lost: Effect.Effect<never, ConnectionLost>
  /** Connected right now (false while reconnecting). */
  readonly isConnected: Effect.Effect<boolean>
  /** Where replies to this client go (NATS_INBOX_PREFIX, else `_INBOX`). */
  readonly inboxPrefix: string
  /** The version the server reported when the connection was made ("2.15.1"). */
  readonly serverVersion: string
}

/** A live NATS connection with its JetStream handles; the scope that built it drains it. */
export class NatsConnection extends Context.Tag("@conveyor/nats/NatsConnection")<NatsConnection, NatsClient>() {}

const RECONNECT_WAIT_MS = 1_000

export const connectionOptions = (config: NatsConfig): ConnectionOptions => {
  const options: ConnectionOptions = {
    servers: [...config.servers],
    name: config.name,
    // Bounded: after this many failed reconnects the client closes and `lost` fails, so an
    // outage surfaces instead of stalling forever.
    maxReconnectAttempts: Math.max(1, Math.ceil(Duration.toMillis(config.reconnectFor) / RECONNECT_WAIT_MS)),
    reconnectTimeWait: RECONNECT_WAIT_MS,
    timeout: 5_000,
    // Skips building an Error per request for async stack traces: a measurable share of publish cost.
    noAsyncTraces: true
  }
  if (Option.isSome(config.user)) options.user = config.user.value
  if (Option.isSome(config.password)) options.pass = Redacted.value(config.password.value)
  if (Option.isSome(config.token)) options.token = Redacted.value(config.token.value)
  if (Option.isSome(config.credsFile)) options.authenticator = credsAuthenticator(readFileSync(config.credsFile.value))
  if (Option.isSome(config.tlsCaFile)) options.tls = { caFile: config.tlsCaFile.value }
  if (Option.isSome(config.inboxPrefix)) options.inboxPrefix = config.inboxPrefix.value
  return options
}

/** The server refused who we are: retrying with the same credentials cannot help. */
const isRefusal = (e: unknown): boolean => e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError

/**
 * Connects, retrying an unreachable server with backoff until `connectTimeout`, then fails with
 * ConnectionFailed naming the URL (never with credentials: `servers` has none). Refused
 * credentials fail at once: they are not transient. A server older than MINIMUM_SERVER_VERSION fails
 * with UnsupportedServer at once.
 */
export const makeNatsClient = (config: NatsConfig) =>
  Effect.gen(function* () {
    const url = config.servers.join(",")
    const timeout = Duration.toMillis(config.connectTimeout)
    let attempts = 0
    let lastError = "not attempted"
    const once = Effect.tryPromise({
      try: () => {
        attempts++
        return connect(connectionOptions(config))
      },
      catch: (e) => {
        lastError = errorText(e)
        return isRefusal(e)
      }
    })
    const nc = yield* once.pipe(
      Effect.retry({
        schedule: Schedule.exponential("100 millis", 2).pipe(Schedule.either(Schedule.spaced("2 seconds")), Schedule.upTo(timeout)),
        while: (refused) => !refused
      }),
      Effect.timeoutFail({ duration: Duration.millis(timeout + 1_000), onTimeout: () => false }),
      Effect.mapError((refused) => new ConnectionFailed({ url, cause: lastError, attempts, reason: refused ? "refused" : "unreachable", timeoutMs: timeout }))
    )
    const serverVersion = nc.info?.version ?? "unknown"
    if (!isAtLeast(serverVersion, MINIMUM_SERVER_VERSION)) {
      yield* Effect.promise(() => nc.close())
      return yield* new UnsupportedServer({ url, version: serverVersion, minimum: MINIMUM_SERVER_VERSION })
    }
    coalesceWrites(nc)
    const lostSignal = yield* Deferred.make<never, ConnectionLost>()
    let closingByUs = false
    let connected = true
    // The caller's runtime, so these warnings reach its logger (JSON, stderr) and not the default one.
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    yield* Effect.forkDaemon(
      Effect.promise(async () => {
        for await (const status of nc.status()) {
          if (status.type === "disconnect") connected = false
          if (status.type === "reconnect") connected = true
          if (status.type === "disconnect" || status.type === "reconnect" || status.type === "error" || status.type === "ldm") {
            const detail = "server" in status ? String(status.server) : "error" in status ? errorText(status.error) : ""
            runFork(Effect.logWarning(`nats ${status.type}`, { url, detail }))
          }
        }
      })
    )
    yield* Effect.forkDaemon(
      Effect.promise(() => nc.closed()).pipe(
        Effect.flatMap((err) => {
          connected = false
          if (closingByUs) return Effect.void
          const lost = new ConnectionLost({ url, cause: err ? errorText(err) : "closed" })
          return Effect.logError(lost.message).pipe(Effect.zipRight(Deferred.fail(lostSignal, lost)))
        })
      )
    )
    const jsm = yield* Effect.tryPromise({
      try: () => jetstreamManager(nc, { timeout: 10_000 }),
      catch: (e) => new ConnectionFailed({ url, cause: `JetStream unavailable (is the server started with -js?): ${errorText(e)}`, attempts, reason: "unreachable", timeoutMs: timeout })
    })
    const client: NatsClient = {
      nc,
      js: jetstream(nc, { timeout: 10_000 }),
      jsm,
      url,
      lost: Deferred.await(lostSignal),
      isConnected: Effect.sync(() => connected && !nc.isClosed()),
      inboxPrefix: Option.getOrElse(config.inboxPrefix, () => "_INBOX"),
      serverVersion
    }
    const drain = Effect.promise(async () => {
      closingByUs = true
      if (nc.isClosed()) return
      await nc.drain().catch(() => nc.close())
    })
    return { client, drain }
  })

/** Scoped client: closing the scope drains the connection (pending acks and publishes flush first). */
export const scopedNatsClient = (config: NatsConfig) =>
  Effect.acquireRelease(makeNatsClient(config), ({ drain }) => drain).pipe(Effect.map(({ client }) => client))

export const NatsConnectionLive = (config: NatsConfig): Layer.Layer<NatsConnection, ConnectionFailed | UnsupportedServer> =>
  Layer.scoped(NatsConnection, scopedNatsClient(config))

/** Reads config from the environment (`NATS_*`); a bad value fails with a ConfigError naming it. */
export const NatsConnectionFromEnv = Layer.unwrapEffect(Effect.map(natsConfig, NatsConnectionLive))
