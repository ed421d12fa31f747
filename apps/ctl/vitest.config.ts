import { projectConfig } from "../../vitest.shared.mjs"

// Several tests start the CLI as a child process (tsx compiling on start-up): generous on a busy machine.
export default projectConfig({ testTimeout: 120_000 })
