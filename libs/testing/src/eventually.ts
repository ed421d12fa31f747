/**
 * Polls `check` until it returns something other than `undefined` or `false`, and returns that
 * (so a check can both wait and hand back what it waited for); after `timeoutMs` it fails naming
 * `what`. Tests wait on state, never on fixed sleeps. In an Effect test:
 * `yield* Effect.promise(() => eventually(...))`.
 */
export const eventually = async <T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = "condition"
): Promise<Exclude<T, undefined | false>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
