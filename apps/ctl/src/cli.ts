import { Command, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Exit, Logger, LogLevel } from "effect"
import { ExitCode } from "./errors.js"
import { dlqCommand } from "./commands/dlq.js"
import { statusCommand } from "./commands/status.js"
import { topologyCommand } from "./commands/topology.js"
import { workflowCommand } from "./commands/workflow.js"

export const conveyor = Command.make("conveyor").pipe(
  Command.withDescription("Conveyor operator CLI: queues and lag, dead letters, topology, workflow instances"),
  Command.withSubcommands([statusCommand, dlqCommand, topologyCommand, workflowCommand])
)

const run = Command.run(conveyor, { name: "conveyor", version: "0.1.0" })

// Library logs (reconnects, provisioning) go to stderr, warnings and up: stdout is for results.
const stderrLogger = Logger.make(({ logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
  process.stderr.write(`conveyor: ${logLevel.label.toLowerCase()}: ${text}\n`)
})

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
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger))
  )
