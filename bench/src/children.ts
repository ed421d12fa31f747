import type { ChildProcess } from "node:child_process"

// Processes the bench started that still run: SIGKILLed (each by its own pid) when this process
// exits, so an interrupted run leaks none.
const live = new Set<ChildProcess>()
let hooked = false

export const killOnExit = (child: ChildProcess): void => {
  if (!hooked) {
    hooked = true
    process.once("exit", () => {
      for (const running of live) running.kill("SIGKILL")
    })
  }
  live.add(child)
  child.once("exit", () => live.delete(child))
}
