import { NatsConnection, type NatsClient } from "@conveyor/nats"
import { Context, Effect, Layer } from "effect"
import { ConsoleConfig } from "./config.js"
import { DeadLetterIndex } from "./dead-letter-index.js"
import { Jobs } from "./jobs.js"
import { Sessions } from "./sessions.js"

/** What the console's routes share: its settings, the sessions, the dead-letter index and the running jobs. */
export interface ConsoleState {
  readonly config: ConsoleConfig
  readonly client: NatsClient
  readonly sessions: Sessions
  readonly index: DeadLetterIndex
  readonly jobs: Jobs
}

export class Console extends Context.Tag("@conveyor/console/Console")<Console, ConsoleState>() {}

export const ConsoleLive: Layer.Layer<Console, unknown, NatsConnection> = Layer.effect(
  Console,
  Effect.gen(function* () {
    const config = yield* ConsoleConfig
    const client = yield* NatsConnection
    const index = new DeadLetterIndex(client, config.deadLetterStream)
    // Read the dead-letter stream now, not on the first page view (10,000 letters take seconds).
    yield* Effect.forkDaemon(Effect.ignore(index.refresh(true)))
    return {
      config,
      client,
      sessions: new Sessions(config.users, config.sessionTtlMs),
      index,
      jobs: new Jobs(client, config.deadLetterStream, (seqs) => index.forget(seqs))
    }
  })
)
