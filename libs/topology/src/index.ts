export * from "./diff.js"
export * from "./spec.js"
export * from "./subject.js"
export * from "./dead-letters.js"
