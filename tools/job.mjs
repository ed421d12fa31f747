// The processes of this process's terminal job: its ancestors in its own process group (npm, sh,
// nx...). When one of them is gone the job was stopped from outside (a SIGTERM to `npx` or `npm
// run` kills only npm and its shell), so whatever this process runs must stop too, or it would be
// left running as an orphan.
import { execFileSync } from "node:child_process"

const info = (pid) => {
  try {
    const [ppid, pgid] = execFileSync("ps", ["-o", "ppid=,pgid=", "-p", String(pid)], { encoding: "utf8" }).trim().split(/\s+/).map(Number)
    return { ppid, pgid }
  } catch {
    return undefined
  }
}

const ancestorsInJob = () => {
  const own = info(process.pid)
  const chain = []
  for (let pid = process.ppid; pid > 1; ) {
    const next = info(pid)
    if (next === undefined || own === undefined || next.pgid !== own.pgid) break
    chain.push(pid)
    pid = next.ppid
  }
  return chain
}

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === "EPERM"
  }
}

/** Calls `onGone` once when a process of this job is gone; returns a function that stops watching. */
export const watchJob = (onGone) => {
  const ancestors = ancestorsInJob()
  const timer = setInterval(() => {
    if (ancestors.some((pid) => !alive(pid))) {
      clearInterval(timer)
      onGone()
    }
  }, 500)
  return () => clearInterval(timer)
}
