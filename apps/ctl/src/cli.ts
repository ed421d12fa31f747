import { Command, ValidationError } from "@effect/cli"
// Subpaths, not the packages: the CLI's entry must not load the NATS client or OpenTelemetry (start-up time).
import { LogSettings, makeJsonLogger } from "@conveyor/telemetry/logger"
import { redact, redactString } from "@conveyor/telemetry/redact"
import { Cause, Config, Console, Effect, Exit, Layer, Logger, LogLevel } from "effect"
import { withCliConsole } from "./console.js"
import { ExitCode } from "./errors.js"
import { runFrom } from "./lazy.js"
import { dlqCommand } from "./commands/dlq.js"
import { statusCommand } from "./commands/status.js"
import { topologyCommand } from "./commands/topology.js"
import { workflowCommand } from "./commands/workflow.js"

export const conveyor = Command.make("conveyor").pipe(
  Command.withDescription("Conveyor operator CLI: queues and lag, dead letters, topology, workflow instances"),
  Command.withSubcommands([statusCommand, dlqCommand, topologyCommand, workflowCommand])
)

const run = Command.run(conveyor, { name: "conveyor", version: "0.1.0" })

// Library logs (reconnects, provisioning) go to stderr, redacted, warnings and up unless LOG_LEVEL
// says otherwise; LOG_FORMAT=json makes them JSON lines. stdout is for results.
const stderrLogger = Logger.make(({ logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(redact(m)))).join(" ")
  process.stderr.write(`conveyor: ${logLevel.label.toLowerCase()}: ${redactString(text)}\n`)
})
const cliLogging = Effect.map(
  Effect.all([Effect.orElseSucceed(Config.string("LOG_LEVEL"), () => undefined), LogSettings]),
  ([explicitLevel, settings]) =>
    Layer.merge(
      Logger.replace(
        Logger.defaultLogger,
        settings.format === "json" && process.env["LOG_FORMAT"] !== undefined
          ? makeJsonLogger({ serviceName: "conveyor", write: (l) => void process.stderr.write(`${l}\n`) })
          : stderrLogger
      ),
      Logger.minimumLogLevel(explicitLevel === undefined ? LogLevel.Warning : settings.level)
    )
)

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args...) and yields the exit code. A
 * failure prints one line on stderr; usage errors were already explained by @effect/cli.
 */
export const runCli = (argv: ReadonlyArray<string>) =>
  run(argv).pipe(
    Effect.exit,
    Effect.flatMap((exit) => {
      if (Exit.isSuccess(exit)) return Effect.succeed<number>(ExitCode.ok)
      if (Cause.isInterruptedOnly(exit.cause)) return Effect.succeed<number>(ExitCode.ok)
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "Some") {
        const e = failure.value
        if (ValidationError.isValidationError(e)) return Effect.succeed<number>(ExitCode.usage)
        if (e._tag === "CtlError") return Console.error(`conveyor: ${e.message}`).pipe(Effect.as<number>(e.exitCode))
      }
      return Console.error(`conveyor: unexpected failure: ${Cause.pretty(exit.cause).split("\n")[0]}`).pipe(Effect.as<number>(ExitCode.failure))
    }),
    Effect.provide(Layer.unwrapEffect(cliLogging)),
    Effect.catchTag("ConfigError", (e) =>
      runFrom(() => import("./config-error.js"), ({ describeConfigError }) => Console.error(describeConfigError(e))).pipe(Effect.as<number>(ExitCode.usage))
    ),
    withCliConsole
  )
