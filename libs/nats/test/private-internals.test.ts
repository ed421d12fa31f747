import { ESLint } from "eslint"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"

// The workspace's lint keeps each lib's internals private: these imports, written in another
// project, must fail `nx run <project>:lint`.
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
// Module boundaries need Nx's project graph; this test is about the import rule alone.
const eslint = new ESLint({ cwd: root, overrideConfig: { rules: { "@nx/enforce-module-boundaries": "off" } } })

const restricted = async (file: string, source: string) => {
  const [result] = await eslint.lintText(source, { filePath: join(root, file) })
  return result!.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message)
}

describe("internal/ stays private", { timeout: 60_000 }, () => {
  it("refuses a lib's internal module imported by its package path from another project", async () => {
    const messages = await restricted("apps/ctl/src/violation.ts", `import { makePubAckPipeline } from "@conveyor/nats/internal/pub-ack-pipeline"\nexport const f = makePubAckPipeline\n`)
    expect(messages).toEqual([expect.stringContaining("internal to its lib")])
  })

  it("refuses a relative import into another lib's src/", async () => {
    expect(await restricted("libs/orders/src/violation.ts", `import { kvWrites } from "../../nats/src/kv-writes.js"\nexport const f = kvWrites\n`)).toHaveLength(1)
    expect(await restricted("apps/ctl/src/violation.ts", `import { JsPublishError } from "../../../libs/nats/src/internal/pub-ack-pipeline.js"\nexport const f = JsPublishError\n`)).toHaveLength(1)
  })

  it("lets a lib import its own internals and other projects import its entry point", async () => {
    expect(await restricted("libs/nats/src/publisher-x.ts", `import { JsPublishError } from "./internal/pub-ack-pipeline.js"\nexport const f = JsPublishError\n`)).toEqual([])
    expect(await restricted("libs/nats/test/x.test.ts", `import { kvWrites } from "../src/kv-writes.js"\nexport const f = kvWrites\n`)).toEqual([])
    expect(await restricted("apps/ctl/src/ok.ts", `import { ensureTopology } from "@conveyor/nats"\nexport const f = ensureTopology\n`)).toEqual([])
  })
})
