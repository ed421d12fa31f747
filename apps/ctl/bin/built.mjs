// Whether apps/ctl/dist is the build of the current sources, shared by the `conveyor` launcher and
// `npm run conveyor` (which builds first when it is not).
import { existsSync, readdirSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const ctl = join(dirname(fileURLToPath(import.meta.url)), "..")
export const root = join(ctl, "..", "..")
export const built = join(ctl, "dist", "main.js")

const newestIn = (dir) => {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs)
  }
  return newest
}

/** The build exists and is newer than every source of the CLI and the libraries. */
export const isFresh = () => {
  if (!existsSync(built)) return false
  const sources = [join(ctl, "src"), ...readdirSync(join(root, "libs")).map((lib) => join(root, "libs", lib, "src"))].filter(existsSync)
  const builtAt = statSync(built).mtimeMs
  return sources.every((dir) => newestIn(dir) <= builtAt)
}
