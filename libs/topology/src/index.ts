export * from "./diff.js"
export * from "./spec.js"
export * from "./subject.js"
