export * from "./diff.js"
export * from "./spec.js"
