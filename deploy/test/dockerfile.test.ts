// No Docker engine here, so the image is checked by reading: the invariants a reviewer would.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { deployDir } from "./render.js"

const dockerfile = readFileSync(join(deployDir, "docker", "Dockerfile"), "utf8")
// Instructions with their continuation lines joined, comments dropped.
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l.length > 0 && !l.startsWith("#"))
const stages = instructions.reduce<Array<Array<string>>>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([line])
  else acc[acc.length - 1]?.push(line)
  return acc
}, [])
const final = stages[stages.length - 1]!
const find = (lines: ReadonlyArray<string>, keyword: string) => lines.filter((l) => l.toUpperCase().startsWith(`${keyword} `))

describe("deploy/docker/Dockerfile", () => {
  it("builds in one stage and runs in another, both from a pinned Node 22 slim image", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const base = /^ARG NODE_IMAGE=(node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim)$/.exec(instructions.find((l) => l.startsWith("ARG NODE_IMAGE="))!)
    expect(base, "NODE_IMAGE pinned to an exact node:22.x.y-<debian>-slim tag").not.toBeNull()
    expect(base![2]).toBe("22")
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/)
  })

  it("takes the app as a build argument in every stage and fails without one", () => {
    for (const stage of stages) expect(find(stage, "ARG")).toContain("ARG APP")
    expect(dockerfile).toMatch(/test -n "\$\{APP\}"/)
    expect(dockerfile).toMatch(/nx run "\$\{APP\}:build"/)
  })

  it("installs from the lock file and ships production dependencies only", () => {
    expect(dockerfile).toMatch(/npm ci\b/)
    expect(dockerfile).toMatch(/npm prune --omit=dev|npm ci [^\n]*--omit=dev/)
    // Only the staged tree reaches the final image, not the build stage's workspace.
    expect(find(final, "COPY")).toEqual(["COPY --from=build /out/ ./"])
  })

  it("runs as a numeric non-root user", () => {
    const user = find(final, "USER").at(-1)
    expect(user).toBeDefined()
    const uid = /^USER (\d+)(:\d+)?$/.exec(user!)
    expect(uid, "numeric USER, so Kubernetes can check runAsNonRoot").not.toBeNull()
    expect(Number(uid![1])).toBeGreaterThan(0)
  })

  it("has a HEALTHCHECK on the ops server and an exec-form entrypoint under tini", () => {
    const health = find(final, "HEALTHCHECK")
    expect(health).toHaveLength(1)
    expect(health[0]).toContain("/healthz")
    const entrypoint = find(final, "ENTRYPOINT")[0]!
    const argv = JSON.parse(entrypoint.slice("ENTRYPOINT ".length)) as Array<string>
    expect(argv.slice(0, 3)).toEqual(["/usr/bin/tini", "--", "node"])
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends tini/)
    expect(find(final, "CMD").filter((c) => !c.startsWith("CMD ["))).toEqual([])
  })

  it("keeps host artefacts out of the build context", () => {
    const ignore = readFileSync(join(deployDir, "docker", "Dockerfile.dockerignore"), "utf8").split("\n")
    for (const entry of ["**/node_modules", "**/dist", ".git"]) expect(ignore).toContain(entry)
  })
})
