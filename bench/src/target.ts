import { readFileSync } from "node:fs"
import type { RawClient } from "./harness.js"
import type { Stack } from "./workflow.js"

/** One way of running the order chain, as the closed-loop driver sees it. */
export interface Target {
  readonly base: string
  readonly onFinished: (listener: (orderId: string) => void) => () => void
  /** CPU time of the process(es) running the apps, the driver's own process included (it shares it in the one-process rows). */
  readonly cpuMs: () => number
  /** Messages the apps sent to the broker (NATS) or commands it processed (Redis), so far. */
  readonly brokerOps: () => Promise<number>
  readonly brokerCpuMs: () => number
  readonly close: () => Promise<void>
}

const TICKS_PER_SECOND = 100
/** utime + stime of a process from /proc, in ms (Linux; 0 elsewhere). */
export const pidCpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
  } catch {
    return 0
  }
}
export const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Messages NATS received from its client connections (publishes, KV requests, acks, pulls), from the monitoring endpoint. */
export const natsInMessages = (monitorPort: number) => async (): Promise<number> => {
  const connz = (await (await fetch(`http://127.0.0.1:${monitorPort}/connz?limit=4096`)).json()) as { connections?: Array<{ in_msgs: number }> }
  return (connz.connections ?? []).reduce((sum, c) => sum + c.in_msgs, 0)
}

export const subjectsTarget = (raw: RawClient, stack: Stack, extra: Pick<Target, "cpuMs" | "brokerOps" | "brokerCpuMs">): Target => ({
  base: stack.base,
  onFinished: (listener) => {
    const decoder = new TextDecoder()
    const subs = stack.finishedSubjects.map((subject) =>
      raw.nc.subscribe(subject, {
        callback: (_err, m) => {
          const id = (JSON.parse(decoder.decode(m.data)) as { orderId?: string }).orderId
          if (id !== undefined) listener(id)
        }
      })
    )
    return () => subs.forEach((s) => s.unsubscribe())
  },
  ...extra,
  close: stack.close
})

/** CPU time of this process (the driver) and of processes `pids`. */
export const processesCpuMs = (pids: ReadonlyArray<number>) => (): number => selfCpuMs() + pids.reduce((sum, pid) => sum + pidCpuMs(pid), 0)
