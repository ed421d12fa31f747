export * from "./report.js"
export * from "./run.js"
export * from "./stats.js"
