export { freePort, LocalNatsProcess, type LocalServerOptions } from "./local-server.js"
export { NATS_IMAGE, NatsServerUnavailable, startTestNatsServer, type TestNatsServer } from "./test-server.js"
export { uniqueName, useNatsServer } from "./vitest.js"
