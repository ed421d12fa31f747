// What the operator reads, shared by the `conveyor` CLI (apps/ctl) and the web console: one
// implementation of status, workflow reads, topology drift and payload views. The CLI imports each
// module by its own path (`@conveyor/console/reads/status`), so a command loads only what it uses
// and never the console's server.
export * from "./errors.js"
export * from "./status.js"
export * from "./topology.js"
export * from "./workflow.js"
export * from "./payload.js"
