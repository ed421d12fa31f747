import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { generatedFiles } from "../scripts/generated.js"

describe("generated deployment files", () => {
  it.each(generatedFiles().map((f) => [f.path, f] as const))("deploy/%s is committed as the generator writes it", (_, file) => {
    const committed = readFileSync(join(import.meta.dirname, "..", file.path), "utf8")
    // On failure: run `npx nx run deploy:generate` and commit the result.
    expect(committed).toBe(file.content)
  })
})
