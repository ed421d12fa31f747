import { firstLine, layerLogger, LogSettings, makeJsonLogger } from "@conveyor/telemetry"
import { Cause, ConfigError, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option } from "effect"
import { ConnectionFailed } from "./errors.js"

/**
 * Exit codes of every app, documented in README.md ("Running the apps"); the CLI uses the same
 * ones for the same causes.
 */
export const AppExitCode = {
  /** Stopped by a signal after a clean graceful stop. */
  ok: 0,
  /** Anything else: the connection lost for good, a consumer stopped, a graceful stop that overran. */
  failure: 1,
  /** A variable is invalid, or HTTP_PORT is in use. */
  config: 2,
  /** NATS could not be reached within NATS_CONNECT_TIMEOUT. */
  unreachable: 3,
  /** NATS refused the credentials. */
  refused: 4,
  /** A second signal: exited at once. */
  interrupted: 130
} as const

export interface RunMainOptions {
  /** The app's name: the logger's `service` (unless OTEL_SERVICE_NAME is set). */
  readonly serviceName?: string
  /**
   * After the first signal, exit with code 1 if the graceful stop has not finished by then: a
   * stuck finalizer must not keep a pod in Terminating forever. Keep it below the pod's
   * `terminationGracePeriodSeconds`, or Kubernetes' SIGKILL comes first. Undefined: no watchdog.
   */
  readonly forceExitAfterMs?: number
  /** Printed for `--help` or `-h` (then the process exits 0 without starting). */
  readonly help?: string
}

/**
 * One stop request often arrives several times: Ctrl-C reaches every process of the terminal's
 * foreground group, and `nx run` or `npx` forward their own signal to the whole tree. Signals
 * this soon after the first are the same request; a later one means "stop now".
 */
const SAME_REQUEST_MS = 1_000

/** `HTTP_PORT: must be a TCP port`: the invalid values when there are any, else the missing ones. */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const invalid: Array<string> = []
  const missing: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      case "MissingData":
        missing.push(`${e.path.join("_")} is not set`)
        return
      default:
        invalid.push(`${e.path.join("_")}: ${"message" in e ? e.message : "invalid"}`)
    }
  }
  walk(error)
  return `invalid configuration: ${[...new Set(invalid.length > 0 ? invalid : missing)].join("; ")}`
}

const isAddressInUse = (e: unknown): e is { readonly cause: { readonly code: string; readonly port?: number } } =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "ServeError" && "cause" in e &&
  typeof e.cause === "object" && e.cause !== null && "code" in e.cause && e.cause.code === "EADDRINUSE"

/** What a failed start or run says in one line, and the exit code it gets. */
export const describeFailure = (cause: Cause.Cause<unknown>): { readonly line: string; readonly exitCode: number } => {
  const failure = Option.getOrUndefined(Cause.failureOption(cause))
  if (ConfigError.isConfigError(failure)) return { line: describeConfigError(failure), exitCode: AppExitCode.config }
  if (failure instanceof ConnectionFailed) {
    return { line: failure.message, exitCode: failure.reason === "refused" ? AppExitCode.refused : AppExitCode.unreachable }
  }
  if (isAddressInUse(failure)) {
    return { line: `the HTTP port${failure.cause.port === undefined ? "" : ` ${failure.cause.port}`} is in use: set HTTP_PORT to a free port`, exitCode: AppExitCode.config }
  }
  return { line: firstLine(cause), exitCode: AppExitCode.failure }
}

const isHelp = (argv: ReadonlyArray<string>) => argv.includes("--help") || argv.includes("-h")

/**
 * Runs an app's main effect the way Conveyor services start and stop:
 * - every line goes through the app's one redacting logger (`LOG_LEVEL`, `LOG_FORMAT`), the
 *   start-up and signal lines included;
 * - a failure is one line naming the variable or the URL, with the exit codes of `AppExitCode`
 *   (the stack trace only with `LOG_LEVEL=debug`);
 * - SIGTERM or SIGINT interrupts the main fiber, so every scope closes in reverse order: consumers
 *   stop pulling and let in-flight handlers finish within their grace, then the connection
 *   drains; the process exits 0 when that went cleanly;
 * - a signal more than a second after the first exits at once with 130: unsettled messages are
 *   redelivered after their ack wait, which is what at-least-once delivery is for.
 */
export const runMain = <E, A>(main: Effect.Effect<A, E>, options: RunMainOptions = {}): void => {
  if (isHelp(process.argv.slice(2)) && options.help !== undefined) {
    process.stdout.write(`${options.help.trimEnd()}\n`)
    process.exit(0)
  }
  // A bad LOG_LEVEL or LOG_FORMAT is reported through a plain JSON logger, then exits 2 like any variable.
  const fallback = Logger.replace(Logger.defaultLogger, makeJsonLogger({ serviceName: options.serviceName ?? "conveyor", write: (l) => void process.stderr.write(`${l}\n`) }))
  const logging = layerLogger({ serviceName: options.serviceName }).pipe(Layer.orElse(() => fallback))
  const log = (effect: Effect.Effect<void>) => Effect.runFork(effect.pipe(Effect.provide(logging)))
  const debug = Effect.runSync(LogSettings.pipe(Effect.map((s) => LogLevel.lessThanEqual(s.level, LogLevel.Debug)), Effect.orElseSucceed(() => false)))

  const program = Effect.gen(function* () {
    yield* LogSettings // fails the start with exit 2 when LOG_LEVEL or LOG_FORMAT is invalid
    return yield* main
  }).pipe(Effect.provide(logging))
  // Run as an Exit so Effect does not log the failure a second time ("unhandled error") before ours.
  const fiber = Effect.runFork(Effect.exit(program))

  let firstSignalAt: number | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now()
    if (firstSignalAt === undefined) {
      firstSignalAt = now
      log(Effect.logInfo(`${signal} received: stopping gracefully (send it again to exit at once)`))
      Effect.runFork(Fiber.interruptFork(fiber))
      if (options.forceExitAfterMs !== undefined) {
        setTimeout(() => {
          log(Effect.logError(`graceful stop did not finish within ${options.forceExitAfterMs} ms: exiting`))
          setImmediate(() => process.exit(AppExitCode.failure))
        }, options.forceExitAfterMs).unref()
      }
      return
    }
    if (now - firstSignalAt < SAME_REQUEST_MS) return
    process.stderr.write(`${signal} received again: exiting now; unsettled messages will be redelivered\n`)
    process.exit(AppExitCode.interrupted)
  }
  process.on("SIGTERM", onSignal)
  process.on("SIGINT", onSignal)
  // Whoever reads the logs may go away first (a terminal job stopped with Ctrl-C): the stop goes on.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {})
  // Keeps the process alive while the main fiber runs (Effect's timers alone may be unref'd).
  const keepAlive = setInterval(() => {}, 2 ** 30)

  fiber.addObserver((outer) => {
    clearInterval(keepAlive)
    const exit = Exit.flatten(outer)
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) {
      // Stopped cleanly: a stray timer (an exporter's, a library's) must not hold the exit.
      setImmediate(() => process.exit(AppExitCode.ok))
      return
    }
    const { line, exitCode } = describeFailure(exit.cause)
    const report = Effect.logError(line).pipe(
      Effect.zipRight(debug ? Effect.logDebug(Cause.pretty(exit.cause, { renderErrorCause: true })) : Effect.void)
    )
    Effect.runFork(report.pipe(Effect.provide(logging))).addObserver(() => {
      process.exitCode = exitCode
      // Anything left running (a socket, a timer) must not keep a failed app alive.
      setImmediate(() => process.exit(exitCode))
    })
  })
}
