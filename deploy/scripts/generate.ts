// Writes the generated deployment files (NATS users and permissions, the production topology).
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { generatedFiles } from "./generated.js"

const deployDir = join(dirname(fileURLToPath(import.meta.url)), "..")
for (const file of generatedFiles()) {
  const target = join(deployDir, file.path)
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, file.content)
  console.log(`wrote deploy/${file.path}`)
}
