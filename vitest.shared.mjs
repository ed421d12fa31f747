// One vitest setup for every project: libraries resolve to their TypeScript sources through the
// "@conveyor/source" export condition, so tests never need a build first.
import { defineConfig } from "vitest/config"

// No "module": it makes Vite pick @opentelemetry's ESM builds, which Node cannot load.
const conditions = ["@conveyor/source", "import", "node", "default"]

export const projectConfig = (overrides = {}) =>
  defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ["@conveyor/source"] } },
    test: {
      // Tests live in test/ (README, Tests; lint refuses a test in src/).
      include: ["test/**/*.test.ts"],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      pool: "forks",
      ...overrides
    }
  })
