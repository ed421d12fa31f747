import { diag, type DiagLogger, DiagLogLevel } from "@opentelemetry/api"
import { Effect, Layer, Runtime } from "effect"

/**
 * The OTel SDK reports its own trouble (an unreachable collector, a dropped batch) through `diag`, which
 * is silent by default: forward warnings and errors into Effect's logger so they reach the JSON logs.
 */
export const layerOtelDiagnostics: Layer.Layer<never> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const forward =
      (log: (message: string) => Effect.Effect<void>) =>
      (message: string, ...args: Array<unknown>) =>
        void Runtime.runFork(runtime)(
          log([message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(" ")).pipe(
            Effect.annotateLogs("source", "opentelemetry")
          )
        )
    const logger: DiagLogger = {
      error: forward(Effect.logError),
      warn: forward(Effect.logWarning),
      info: () => {},
      debug: () => {},
      verbose: () => {}
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true })),
      () => Effect.sync(() => diag.disable())
    )
  })
)
