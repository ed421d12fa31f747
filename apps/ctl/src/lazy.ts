import { Effect } from "effect"

/**
 * Runs a command's handler from a module loaded only when the command runs. The command tree that
 * @effect/cli parses stays light, so `--help` and usage errors never load the NATS client, the
 * OpenTelemetry SDK or the libraries' HTTP servers, and `conveyor` starts well under a second.
 */
export const runFrom = <M, A, E, R>(load: () => Promise<M>, run: (module: M) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.promise(load), run)
