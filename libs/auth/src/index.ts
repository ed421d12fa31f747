export * from "./conf.js"
export * from "./permissions.js"
export * from "./users.js"
