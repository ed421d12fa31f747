// `--cluster`: the demo on a local three-node JetStream cluster (topology at replicas 3). A third
// of the way through, the node that leads both the order events stream and the workflow bucket is
// SIGKILLed; it stays down while more orders finish, then restarts on its own store and catches up.
import { Buckets, StreamNames } from "@conveyor/domain"
import type { NatsClient } from "@conveyor/nats"
import type { LocalNatsCluster } from "@conveyor/testing"

const WORKFLOWS_STREAM = `KV_${Buckets.workflows}`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The stream's leader. Asked again for up to 30 s when the request fails: right after a node
 * comes back, its streams may be electing a leader and a STREAM.INFO times out meanwhile.
 */
const leaderOf = async (client: NatsClient, stream: string): Promise<string | undefined> => {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      return (await client.jsm.streams.info(stream)).cluster?.leader
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(500)
    }
  }
}

/**
 * Asks the workflow bucket's leader to step down until the events stream's leader leads it too
 * (each step-down elects one of the other replicas), so one kill takes both leaders at once.
 */
const colocateLeaders = async (client: NatsClient): Promise<string | undefined> => {
  for (let i = 0; i < 10; i++) {
    const [events, workflows] = await Promise.all([leaderOf(client, StreamNames.events), leaderOf(client, WORKFLOWS_STREAM)])
    if (events !== undefined && events === workflows) return events
    await client.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${WORKFLOWS_STREAM}`, undefined, { timeout: 5_000 }).catch(() => undefined)
    await sleep(500)
  }
  return leaderOf(client, StreamNames.events)
}

export interface MidRun {
  readonly client: NatsClient
  /** Orders finished so far. */
  readonly finished: () => number
  readonly orders: number
  readonly log: (line: string) => void
}

/** Kills the node leading the events stream and the workflow bucket, waits, restarts it. */
export const killLeaderNode = (cluster: LocalNatsCluster) => async ({ client, finished, orders, log }: MidRun): Promise<void> => {
  const leader = await colocateLeaders(client)
  if (leader === undefined) throw new Error(`stream ${StreamNames.events} reports no leader`)
  const node = cluster.node(leader)
  const workflowsLeader = await leaderOf(client, WORKFLOWS_STREAM)
  log(`killing node ${leader} (pid ${node.pid}, leader of ${StreamNames.events}${workflowsLeader === leader ? ` and ${WORKFLOWS_STREAM}` : ""}) with SIGKILL`)
  await node.kill()
  // Down while a tenth of the orders more finish (or 20 s), so the workflow visibly runs without it.
  const target = Math.min(orders, finished() + Math.ceil(orders / 10))
  const until = Date.now() + 20_000
  while (finished() < target && Date.now() < until) await sleep(100)
  log(`restarting node ${leader} on its store (${finished()} orders finished while it was down)`)
  await node.restart()
  await cluster.waitReady()
  log(`node ${leader} is back in the cluster; new leaders: ${StreamNames.events} on ${await leaderOf(client, StreamNames.events)}, ${WORKFLOWS_STREAM} on ${await leaderOf(client, WORKFLOWS_STREAM)}`)
}
