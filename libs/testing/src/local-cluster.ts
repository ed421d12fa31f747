import { freePort, LocalNatsProcess } from "./local-server.js"

export interface LocalClusterOptions {
  readonly binary?: string
  /** Nodes in the cluster (default 3: the smallest that keeps a quorum with one node down). */
  readonly size?: number
  /** Extra arguments for every node, e.g. a config file with `sync_interval: always`. */
  readonly args?: ReadonlyArray<string>
  readonly readyTimeoutMs?: number
}

interface JetStreamInfo {
  readonly meta_cluster?: { readonly leader?: string; readonly cluster_size?: number }
}

const jsz = async (monitorPort: number): Promise<JetStreamInfo | undefined> => {
  try {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/jsz`)
    return response.ok ? ((await response.json()) as JetStreamInfo) : undefined
  } catch {
    return undefined
  }
}

/**
 * A JetStream cluster of nats-server processes on 127.0.0.1: each node its own client, route and
 * monitoring port and its own store, routes to every other node, server names `n1`, `n2`, ...
 * Each node is killed (SIGKILL) and restarted on its own store by its own process id; `stop`
 * stops every node and removes the stores.
 */
export class LocalNatsCluster {
  private constructor(readonly name: string, readonly nodes: ReadonlyArray<LocalNatsProcess>, private readonly readyTimeoutMs: number) {}

  static async start(options: LocalClusterOptions = {}): Promise<LocalNatsCluster> {
    const size = options.size ?? 3
    const name = `conveyor-${process.pid}-${Date.now().toString(36)}`
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()))
    const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(",")
    const started = await Promise.allSettled(routePorts.map((routePort, i) =>
      LocalNatsProcess.start({
        ...(options.binary === undefined ? {} : { binary: options.binary }),
        args: ["--server_name", `n${i + 1}`, "--cluster_name", name, "--cluster", `nats://127.0.0.1:${routePort}`, "--routes", routes, ...(options.args ?? [])],
        // A node is "ready" before its routes are up; the cluster's readiness is waited for below.
        startTimeoutMs: 30_000
      })))
    const nodes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected")
    const cluster = new LocalNatsCluster(name, nodes, options.readyTimeoutMs ?? 90_000)
    if (failed !== undefined) {
      await cluster.stop()
      throw failed.reason
    }
    await cluster.waitReady().catch(async (error: unknown) => {
      await cluster.stop()
      throw error
    })
    return cluster
  }

  /** Every node's client URL, comma-separated: what NATS_URL takes. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(",")
  }

  get urls(): ReadonlyArray<string> {
    return this.nodes.map((n) => n.url)
  }

  /** The node with server name `serverName` (`n1`...), as JetStream's cluster info names leaders. */
  node(serverName: string): LocalNatsProcess {
    const node = this.nodes[Number(serverName.replace(/^n/, "")) - 1]
    if (node === undefined) throw new Error(`no node named ${serverName} in cluster ${this.name}`)
    return node
  }

  /**
   * Resolves once every running node sees a JetStream meta leader in a cluster of the full size
   * (after start, and after a node restarts before it counts again).
   */
  async waitReady(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs
    for (;;) {
      const infos = await Promise.all(this.nodes.filter((n) => n.running).map((n) => jsz(n.monitorPort)))
      if (infos.every((i) => i?.meta_cluster?.leader !== undefined && i.meta_cluster.leader !== "" && i.meta_cluster.cluster_size === this.nodes.length)) return
      if (Date.now() > deadline) {
        throw new Error(`JetStream cluster ${this.name} did not elect a meta leader within ${this.readyTimeoutMs} ms:\n${this.nodes.map((n) => n.log.split("\n").slice(-5).join("\n")).join("\n---\n")}`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
  }
}
