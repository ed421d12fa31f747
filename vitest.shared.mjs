// One vitest setup for every project: libraries resolve to their TypeScript sources through the
// "@conveyor/source" export condition, so tests never need a build first.
import { defineConfig } from "vitest/config"

const conditions = ["@conveyor/source", "import", "module", "node", "default"]

export const projectConfig = (overrides = {}) =>
  defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ["@conveyor/source"] } },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      pool: "forks",
      ...overrides
    }
  })
