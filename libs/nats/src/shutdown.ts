import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"

export interface RunMainOptions {
  /**
   * After the first signal, exit with code 1 if the graceful stop has not finished by then: a
   * stuck finalizer must not keep a pod in Terminating forever. Undefined: no watchdog (the
   * orchestrator's own kill timeout applies).
   */
  readonly forceExitAfterMs?: number
  /** Exit code of a second signal's immediate exit (default 130, as for an interrupted shell job). */
  readonly hardExitCode?: number
  /** Default true: keep the app's own logger (JSON logs) instead of adding the pretty one. */
  readonly disablePrettyLogger?: boolean
}

/**
 * Runs an app's main effect the way Conveyor services stop:
 * - SIGTERM or SIGINT interrupts the main fiber, so every scope closes in reverse order: consumers
 *   stop pulling and let in-flight handlers finish within their grace (settling and confirming
 *   their acks), then the connection drains. The process exits 0 when that went cleanly.
 * - A second signal exits at once with `hardExitCode`: unsettled messages are redelivered after
 *   their ack wait, which is what at-least-once delivery is for.
 * - A failure of the main effect exits 1 (NodeRuntime's teardown).
 */
export const runMain = <E, A>(main: Effect.Effect<A, E>, options: RunMainOptions = {}): void => {
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals === 1) {
      Effect.runFork(Effect.logInfo(`${signal} received: stopping gracefully (send it again to exit at once)`))
      if (options.forceExitAfterMs !== undefined) {
        setTimeout(() => {
          process.stderr.write(`graceful stop did not finish within ${options.forceExitAfterMs} ms; exiting\n`)
          process.exit(1)
        }, options.forceExitAfterMs).unref()
      }
      return
    }
    process.stderr.write(`${signal} received again: exiting now; unsettled messages will be redelivered\n`)
    process.exit(options.hardExitCode ?? 130)
  }
  // NodeRuntime.runMain handles the first signal (it interrupts the main fiber) and then removes
  // its own listeners; ours stays to catch the second.
  process.on("SIGTERM", onSignal)
  process.on("SIGINT", onSignal)
  NodeRuntime.runMain(main, { disablePrettyLogger: options.disablePrettyLogger ?? true })
}
