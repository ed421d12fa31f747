#!/usr/bin/env node
// `npm run conveyor` runs this before the launcher: it builds the CLI and the libraries it uses
// (`nx run ctl:build`, cached per project) when the sources changed since the last build, so the
// launcher runs the built JavaScript (well under a second to start) instead of the sources through
// tsx (several seconds). A failed build is reported and the launcher falls back to the sources.
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import { utimesSync } from "node:fs"
import { built, isFresh, root } from "./built.mjs"

if (!isFresh()) {
  process.stderr.write("conveyor: building the CLI (its sources changed since the last build)...\n")
  const nx = createRequire(import.meta.url).resolve("nx/bin/nx")
  const build = spawnSync(process.execPath, [nx, "run", "ctl:build", "--output-style=static"], {
    cwd: root,
    encoding: "utf8",
    env: { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false", ...process.env }
  })
  if (build.status !== 0) {
    process.stderr.write(`${build.stdout ?? ""}${build.stderr ?? ""}conveyor: warning: the build failed (above); running the sources through tsx instead\n`)
  } else {
    // A build restored from Nx's cache may keep old file times; it is the build of these sources.
    const now = new Date()
    utimesSync(built, now, now)
  }
}
