import { natsUsers } from "@conveyor/auth"
import { parse } from "yaml"
import { describe, expect, it } from "vitest"
import { SECRET } from "../scripts/manifests.js"
import { composeEnv, randomPassword, randomPasswords, secretManifest } from "../scripts/secrets.js"
import { validateAgainstSchema } from "./render.js"

describe("secret generator", () => {
  it("prints a valid Secret with one fresh password per NATS user", () => {
    const passwords = randomPasswords()
    const secret = parse(secretManifest(passwords))
    validateAgainstSchema(secret)
    expect(secret.metadata.name).toBe(SECRET)
    expect(Object.keys(secret.stringData)).toEqual(natsUsers().map((u) => u.name))
    expect(new Set(Object.values(secret.stringData)).size).toBe(natsUsers().length)
  })

  it("makes long alphanumeric passwords, different each time", () => {
    const a = randomPassword()
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(randomPassword()).not.toBe(a)
  })

  it("prints the compose variables the compose file reads", () => {
    const env = composeEnv(randomPasswords())
    for (const u of natsUsers()) expect(env).toMatch(new RegExp(`^${u.passwordEnv}=[A-Za-z0-9]{32}$`, "m"))
  })
})
