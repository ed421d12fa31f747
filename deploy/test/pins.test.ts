// What is deployed runs the nats-server line the tests run on (README "Supported nats-server versions").
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "yaml"
import { describe, expect, it } from "@effect/vitest"
import { NATS_IMAGE } from "../scripts/manifests.js"
import { deployDir } from "./render.js"

const root = join(deployDir, "..")
// The one place the tested version is written: the installer the tests, demo and CI run.
const tested = /tested: \{ version: "(\d+\.\d+)\.\d+"/.exec(readFileSync(join(root, "tools", "prereqs", "nats-server.mjs"), "utf8"))?.[1]

describe("nats-server pins", () => {
  it("compose, the generated manifests and the StatefulSet pin the tested minor line", () => {
    expect(tested).toMatch(/^2\.\d+$/)
    const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8")) as { services: Record<string, { image?: string }> }
    const statefulSet = readFileSync(join(deployDir, "base", "nats", "nats.yaml"), "utf8").match(/image: (nats:\S+)/)?.[1]
    for (const image of [compose.services["nats"]?.image, NATS_IMAGE, statefulSet]) {
      expect(image).toMatch(new RegExp(`^nats:${tested!.replace(".", "\\.")}\\.\\d+-alpine$`))
    }
  })
})
