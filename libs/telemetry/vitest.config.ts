import { projectConfig } from "../../vitest.shared.mjs"

// The shared list of resolve conditions includes "module", which points @opentelemetry/* at ESM builds
// whose extensionless imports Node cannot load; this project resolves without it.
const conditions = ["@conveyor/source", "import", "node", "default"]
const config = projectConfig()

export default { ...config, resolve: { ...config.resolve, conditions }, ssr: { ...config.ssr, resolve: { ...config.ssr?.resolve, conditions } } }
