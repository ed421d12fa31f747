// Hooks that need vitest live in "@conveyor/testing/vitest", so scripts (demo, bench) can start a
// server without loading vitest; apps as processes in "@conveyor/testing/app-process".
export { freePort, LocalNatsProcess, type LocalServerOptions, retryWhilePortTaken } from "./local-server.js"
export { LocalNatsCluster, type LocalClusterOptions } from "./local-cluster.js"
export { NATS_IMAGE, NatsServerUnavailable, startTestNatsServer, type TestNatsServer } from "./test-server.js"
export { uniqueName } from "./unique-name.js"
export { eventually } from "./eventually.js"
export { killOnExit } from "./kill-on-exit.js"
export { otlpReceiver, type OtlpExport, type OtlpRequest, type OtlpSpan } from "./otlp-receiver.js"
