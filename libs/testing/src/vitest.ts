import { afterAll, beforeAll } from "vitest"
import { startTestNatsServer, type TestNatsServer } from "./test-server.js"

/**
 * One server per test file: starts in `beforeAll`, stops in `afterAll` (also when tests fail).
 * Read `url` inside tests, not at module load: it is known only once the server runs.
 */
export const useNatsServer = (): TestNatsServer => {
  let server: TestNatsServer | undefined
  beforeAll(async () => {
    server = await startTestNatsServer()
  })
  afterAll(async () => {
    await server?.stop()
  })
  const get = (): TestNatsServer => {
    if (server === undefined) throw new Error("useNatsServer: the server is not started yet (read it inside a test or hook)")
    return server
  }
  return {
    get kind() { return get().kind },
    get url() { return get().url },
    get monitorUrl() { return get().monitorUrl },
    kill: () => get().kill(),
    restart: () => get().restart(),
    stop: () => get().stop()
  }
}

export { uniqueName } from "./unique-name.js"
