import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { LocalNatsProcess } from "./local-server.js"

/**
 * A running nats-server with JetStream for one test file. `kind` says where it came from; fault
 * tests use `kill`/`restart`, which only a server this helper started can do.
 */
export interface TestNatsServer {
  readonly kind: "external" | "container" | "local"
  readonly url: string
  /** HTTP monitoring endpoint (`/varz`, `/jsz`), when known. */
  readonly monitorUrl: string | undefined
  /** SIGKILL the server; its store is kept for `restart`. */
  readonly kill: () => Promise<void>
  /** Start it again on the same address and store. */
  readonly restart: () => Promise<void>
  /** Stop it and remove its store. Safe to call twice. */
  readonly stop: () => Promise<void>
}

export class NatsServerUnavailable extends Error {
  override readonly name = "NatsServerUnavailable"
}

const INSTALL_HINT = [
  "Conveyor's tests need a real nats-server 2.10 or newer with JetStream (tested on 2.15). Provide one of:",
  "  - a local binary: `node tools/ensure-prereqs.mjs` fetches the tested one and prints its NATS_SERVER_BIN,",
  "    or `brew install nats-server`, or https://github.com/nats-io/nats-server/releases (set NATS_SERVER_BIN);",
  "  - a reachable Docker engine (testcontainers then runs the official `nats` image);",
  "  - NATS_URL pointing at a running server started with `-js`."
].join("\n")

const hasLocalBinary = (binary: string): boolean => {
  try {
    execFileSync(binary, ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const dockerMightBeReachable = (): boolean =>
  process.env["DOCKER_HOST"] !== undefined || existsSync("/var/run/docker.sock")

const fromExternal = (url: string): TestNatsServer => {
  const unsupported = (what: string) => () =>
    Promise.reject(new NatsServerUnavailable(`${what} needs a server the test started; unset NATS_URL (it is ${url})`))
  return { kind: "external", url, monitorUrl: undefined, kill: unsupported("kill"), restart: unsupported("restart"), stop: () => Promise.resolve() }
}

const fromLocal = async (binary: string): Promise<TestNatsServer> => {
  const server = await LocalNatsProcess.start({ binary })
  return {
    kind: "local",
    url: server.url,
    monitorUrl: `http://127.0.0.1:${server.monitorPort}`,
    kill: () => server.kill(),
    restart: () => server.restart(),
    stop: () => server.stop()
  }
}

// The official image of the tested line (tools/prereqs/nats-server.mjs), as deploy/ pins it.
export const NATS_IMAGE = "nats:2.15.1-alpine"

const fromContainer = async (): Promise<TestNatsServer> => {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import("testcontainers")
  await getContainerRuntimeClient() // throws at once when no engine answers
  const container = await new GenericContainer(NATS_IMAGE)
    .withCommand(["-js", "-sd", "/data", "-m", "8222"])
    .withExposedPorts(4222, 8222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start()
  const client = await getContainerRuntimeClient()
  const raw = client.container.getById(container.getId())
  let host = container.getHost()
  let ports = { client: container.getMappedPort(4222), monitor: container.getMappedPort(8222) }
  const refreshPorts = async () => {
    const info = await raw.inspect()
    const mapped = (p: string) => Number(info.NetworkSettings.Ports[p]?.[0]?.HostPort)
    ports = { client: mapped("4222/tcp"), monitor: mapped("8222/tcp") }
  }
  let stopped = false
  return {
    kind: "container",
    get url() { return `nats://${host}:${ports.client}` },
    get monitorUrl() { return `http://${host}:${ports.monitor}` },
    kill: async () => { await raw.kill({ signal: "SIGKILL" }) },
    restart: async () => {
      await raw.start()
      await refreshPorts()
      host = container.getHost()
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      await container.stop({ remove: true, removeVolumes: true })
    }
  }
}

/**
 * Picks, in order: `NATS_URL`; testcontainers when a Docker engine answers; the local
 * `nats-server` binary. `CONVEYOR_TEST_NATS=local|container|external` forces one. Never skips:
 * when none is available it throws with install instructions.
 */
export const startTestNatsServer = async (): Promise<TestNatsServer> => {
  const forced = process.env["CONVEYOR_TEST_NATS"]
  const url = process.env["NATS_URL"]
  const binary = process.env["NATS_SERVER_BIN"] ?? "nats-server"
  if (forced === "external" || (forced === undefined && url !== undefined && url !== "")) {
    if (url === undefined || url === "") throw new NatsServerUnavailable(`CONVEYOR_TEST_NATS=external needs NATS_URL.\n${INSTALL_HINT}`)
    return fromExternal(url)
  }
  const errors: Array<string> = []
  if (forced === "container" || (forced === undefined && dockerMightBeReachable())) {
    try {
      return await fromContainer()
    } catch (error) {
      errors.push(`testcontainers: ${error instanceof Error ? error.message : String(error)}`)
      if (forced === "container") throw new NatsServerUnavailable(`${errors.join("\n")}\n${INSTALL_HINT}`)
    }
  }
  if (hasLocalBinary(binary)) return fromLocal(binary)
  errors.push(`local binary: '${binary}' not found or not runnable`)
  throw new NatsServerUnavailable(`No nats-server available.\n${errors.join("\n")}\n${INSTALL_HINT}`)
}
