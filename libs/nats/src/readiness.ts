import type { RunningConsumer } from "@conveyor/messaging"
import { NotReady, Readiness } from "@conveyor/telemetry"
import type { Topology } from "@conveyor/topology"
import { Cause, Effect, Exit, Layer, Option, type Scope } from "effect"
import { NatsConnection } from "./connection.js"
import { ensureTopology } from "./provisioning.js"

/** Check names this adapter registers; list them in `layerTelemetry({ requiredChecks })`. */
export const NatsChecks = { connected: "nats-connected", topology: "topology-ensured" } as const
export const natsReadinessChecks: ReadonlyArray<string> = [NatsChecks.connected, NatsChecks.topology]

/** The check name of one running consumer. */
export const consumerCheckName = (name: string): string => `consumer ${name}`

/** Runs `register` when the app provides Readiness; without it there is nothing to report to. */
const withReadiness = <R>(register: (readiness: Readiness["Type"]) => Effect.Effect<void, never, R>) =>
  Effect.flatMap(Effect.serviceOption(Readiness), Option.match({ onNone: () => Effect.void, onSome: register }))

/**
 * "nats-connected" follows the connection: it fails while the client is disconnected (reconnecting)
 * and passes again once it is back. Registered for the lifetime of the scope.
 */
export const registerConnectionCheck: Effect.Effect<void, never, NatsConnection | Scope.Scope> = Effect.flatMap(NatsConnection, (client) =>
  withReadiness((readiness) =>
    readiness.register(
      NatsChecks.connected,
      Effect.flatMap(client.isConnected, (up) => (up ? Effect.void : Effect.fail(new NotReady({ reason: `disconnected from ${client.url}` }))))
    )
  )
)

/** The connection check as a layer, next to `NatsConnectionLive`. */
export const NatsReadinessLive: Layer.Layer<never, never, NatsConnection> = Layer.scopedDiscard(registerConnectionCheck)

/**
 * Ensures the topology, then reports "topology-ensured" for the lifetime of the scope. It is not
 * re-checked afterwards: a server that lost its (memory) streams shows up in the consumers' checks.
 */
export const ensureTopologyReady = (topology: Topology) =>
  ensureTopology(topology).pipe(Effect.tap(() => withReadiness((readiness) => readiness.register(NatsChecks.topology, Effect.void))))

/** "consumer <stream>/<durable>" passes while the runner pulls; it fails once the runner stopped or failed. */
export const registerConsumerCheck = (running: RunningConsumer): Effect.Effect<void, never, Scope.Scope> =>
  withReadiness((readiness) =>
    Effect.gen(function* () {
      const flag = yield* readiness.flag(consumerCheckName(running.name), true)
      yield* Effect.forkScoped(
        Effect.flatMap(Effect.exit(running.done), (exit) =>
          flag.set(false, Exit.isSuccess(exit) ? "stopped" : `failed: ${Cause.pretty(exit.cause).split("\n")[0] ?? "unknown"}`)
        )
      )
    })
  )
