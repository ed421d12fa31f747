// The console's public surface: the app (for apps/console and tests), its configuration, and the
// default port (npm run dev). Pages, sessions, the dead-letter index and replay jobs are its own.
// The operator reads it shares with the CLI are the subpaths @conveyor/console/reads/<module>.
export { consoleApp, runConsole } from "./app.js"
export { ConsoleConfig, type ConsoleUser, DEFAULT_CONSOLE_PORT, parseReadyz, type ReadyzTarget, type Role } from "./config.js"
