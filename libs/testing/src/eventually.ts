/** Polls `check` until it holds, failing with `what` after `timeoutMs`: tests wait on state, never on fixed sleeps. */
export const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = "condition"): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}
