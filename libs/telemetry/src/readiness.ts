import { Cause, Context, Data, Duration, Effect, Exit, Layer, Ref, type Scope } from "effect"

/**
 * Readiness is the sum of named checks that other modules register for as long as they live (their
 * scope): the NATS adapter registers "nats-connected", provisioning "topology-ensured", the runner
 * "consumers-running". Liveness deliberately does not depend on any of them.
 */
export class NotReady extends Data.TaggedError("NotReady")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly error?: string
}

export interface ReadinessReport {
  readonly ready: boolean
  readonly checks: ReadonlyArray<CheckResult>
}

/** A check that someone else flips, e.g. from a connection status stream. */
export interface ReadinessFlag {
  readonly set: (ready: boolean, reason?: string) => Effect.Effect<void>
  readonly get: Effect.Effect<boolean>
}

/** A check passes when it succeeds with anything but `false`; failing, dying or timing out fails it. */
export type Check = Effect.Effect<boolean | void, unknown>

export interface ReadinessService {
  readonly register: (name: string, check: Check) => Effect.Effect<void, never, Scope.Scope>
  readonly flag: (name: string, initial?: boolean) => Effect.Effect<ReadinessFlag, never, Scope.Scope>
  readonly report: Effect.Effect<ReadinessReport>
}

export class Readiness extends Context.Tag("@conveyor/telemetry/Readiness")<Readiness, ReadinessService>() {}

const describe = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && failure.value instanceof Error) return failure.value.message
  return Cause.pretty(cause).split("\n")[0] ?? "failed"
}

export interface ReadinessOptions {
  readonly checkTimeout?: Duration.DurationInput
  /**
   * Checks that must exist for the process to be ready. A module registers its check only once it
   * runs (the connection after connecting), so without this the probe would pass while start-up is
   * still under way: a required name that is not registered (yet, or any more) fails.
   */
  readonly required?: ReadonlyArray<string>
}

/** Probes are polled every few seconds; a check that hangs must not hang the probe. */
export const makeReadiness = (options?: ReadinessOptions) =>
  Effect.sync((): ReadinessService => {
    const checks = new Map<string, Check>()
    const timeout = options?.checkTimeout ?? Duration.seconds(2)
    const required = options?.required ?? []

    const register = (name: string, check: Check) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          checks.set(name, check)
          return check
        }),
        (registered) =>
          Effect.sync(() => {
            if (checks.get(name) === registered) checks.delete(name)
          })
      ).pipe(Effect.asVoid)

    const run = (name: string, check: Check): Effect.Effect<CheckResult> =>
      check.pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new NotReady({ reason: `no answer within ${Duration.format(timeout)}` }) }),
        Effect.exit,
        Effect.map((exit): CheckResult =>
          Exit.match(exit, {
            onFailure: (cause) => ({ name, ok: false, error: describe(cause) }),
            onSuccess: (value) => (value === false ? { name, ok: false, error: "not ready" } : { name, ok: true })
          })
        )
      )

    return {
      register,
      flag: (name, initial = false) =>
        Effect.gen(function* () {
          const state = yield* Ref.make<{ ready: boolean; reason?: string | undefined }>({ ready: initial })
          yield* register(
            name,
            Effect.flatMap(Ref.get(state), (s) => (s.ready ? Effect.void : Effect.fail(new NotReady({ reason: s.reason ?? "not ready" }))))
          )
          return {
            set: (ready, reason) => Ref.set(state, { ready, reason }),
            get: Effect.map(Ref.get(state), (s) => s.ready)
          }
        }),
      report: Effect.suspend(() => {
        const missing = required.filter((name) => !checks.has(name)).map((name): CheckResult => ({ name, ok: false, error: "not started" }))
        return Effect.forEach([...checks], ([name, check]) => run(name, check), { concurrency: "unbounded" }).pipe(
          Effect.map((results) => [...missing, ...results])
        )
      }).pipe(Effect.map((results) => ({ ready: results.every((r) => r.ok), checks: results })))
    }
  })

export const layerReadiness = (options?: ReadinessOptions): Layer.Layer<Readiness> =>
  Layer.effect(Readiness, makeReadiness(options))

/** Registers `check` under `name` for the lifetime of the layer that calls it. */
export const registerCheck = (name: string, check: Check): Effect.Effect<void, never, Readiness | Scope.Scope> =>
  Effect.flatMap(Readiness, (r) => r.register(name, check))

export const readinessFlag = (name: string, initial?: boolean): Effect.Effect<ReadinessFlag, never, Readiness | Scope.Scope> =>
  Effect.flatMap(Readiness, (r) => r.flag(name, initial))
