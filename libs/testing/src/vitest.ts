import { afterAll, beforeAll } from "@effect/vitest"
import { LocalNatsCluster } from "./local-cluster.js"
import { startTestNatsServer, type TestNatsServer } from "./test-server.js"

/**
 * One resource per test file: opened in `beforeAll`, closed in `afterAll` (also when tests fail).
 * The getter throws `notOpen` when read before the resource is open (at module load, say).
 */
export const perTestFile = <A>(open: () => Promise<A>, close: (a: A) => Promise<void>, notOpen: string, openTimeoutMs?: number): (() => A) => {
  let value: A | undefined
  beforeAll(async () => {
    value = await open()
  }, openTimeoutMs)
  afterAll(async () => {
    if (value !== undefined) await close(value)
  })
  return () => {
    if (value === undefined) throw new Error(notOpen)
    return value
  }
}

/**
 * One server per test file: starts in `beforeAll`, stops in `afterAll` (also when tests fail).
 * Read `url` inside tests, not at module load: it is known only once the server runs.
 */
export const useNatsServer = (): TestNatsServer => {
  const get = perTestFile(startTestNatsServer, (server) => server.stop(), "useNatsServer: the server is not started yet (read it inside a test or hook)")
  return {
    get kind() { return get().kind },
    get url() { return get().url },
    get monitorUrl() { return get().monitorUrl },
    kill: () => get().kill(),
    restart: () => get().restart(),
    stop: () => get().stop()
  }
}

/**
 * A three-node JetStream cluster of local nats-server processes for one test file (needs the
 * local binary: NATS_SERVER_BIN or nats-server on PATH), stopped in `afterAll`.
 */
export const useNatsCluster = (): (() => LocalNatsCluster) =>
  // Three servers electing a meta leader on a busy machine can take longer than one server's start.
  perTestFile(() => LocalNatsCluster.start(), (cluster) => cluster.stop(), "useNatsCluster: the cluster is not started yet (read it inside a test or hook)", 150_000)

export { uniqueName } from "./unique-name.js"
