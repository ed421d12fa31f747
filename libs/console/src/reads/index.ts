// What the operator reads, shared by the `conveyor` CLI (apps/ctl) and the web console: one
// implementation of status, workflow reads and topology drift. A module of its own so the CLI loads
// it without the console's server.
export * from "./errors.js"
export * from "./status.js"
export * from "./topology.js"
export * from "./workflow.js"
export * from "./payload.js"
