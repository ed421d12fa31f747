import type { ChildProcess } from "node:child_process"

// Processes the test helpers started and that still run: SIGKILLed (each by its own pid) when this
// process exits, so a crashed or interrupted test run leaks none.
const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** Kills `child` if it still runs when this process exits (the exit hook is added on first use). */
export const killOnExit = (child: ChildProcess): void => {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once("exit", () => {
      for (const running of live) running.kill("SIGKILL")
    })
  }
  live.add(child)
  child.once("exit", () => live.delete(child))
}
