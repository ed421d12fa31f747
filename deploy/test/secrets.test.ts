import { natsUsers } from "@conveyor/auth"
import bcrypt from "bcryptjs"
import { parseAllDocuments } from "yaml"
import { describe, expect, it } from "@effect/vitest"
import { CONSOLE_LOGIN_KEYS, SECRET, SERVER_SECRET } from "../scripts/manifests.js"
import { bcryptHash, composeEnv, randomPassword, randomPasswords, secretManifest } from "../scripts/secrets.js"
import { validateAgainstSchema } from "./render.js"

describe("secret generator", () => {
  it("prints valid Secrets: one fresh password per NATS user for the apps, and its bcrypt hash for nats-server", () => {
    const passwords = randomPasswords()
    const [users, server] = parseAllDocuments(secretManifest(passwords)).map((d) => d.toJS())
    for (const s of [users, server]) validateAgainstSchema(s)
    expect(users.metadata.name).toBe(SECRET)
    expect(server.metadata.name).toBe(SERVER_SECRET)
    // The NATS users' passwords, and the console's two login passwords (no NATS user, no hash).
    expect(Object.keys(users.stringData)).toEqual([...natsUsers().map((u) => u.name), CONSOLE_LOGIN_KEYS.operator, CONSOLE_LOGIN_KEYS.viewer])
    expect(Object.keys(server.stringData)).toEqual(natsUsers().map((u) => u.name))
    expect(new Set(Object.values(users.stringData)).size).toBe(natsUsers().length + 2)
    for (const u of natsUsers()) {
      expect(server.stringData[u.name]).toMatch(/^\$2a\$11\$[./A-Za-z0-9]{53}$/)
      expect(bcrypt.compareSync(users.stringData[u.name], server.stringData[u.name])).toBe(true)
    }
  })

  it("makes long alphanumeric passwords, different each time", () => {
    const a = randomPassword()
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(randomPassword()).not.toBe(a)
    expect(bcrypt.compareSync(`${a}x`, bcryptHash(a))).toBe(false)
  })

  it("prints the compose variables the compose file reads: passwords, and hashes quoted so compose keeps their `$`", () => {
    const passwords = randomPasswords()
    const env = composeEnv(passwords)
    for (const u of natsUsers()) {
      expect(env).toMatch(new RegExp(`^${u.passwordEnv}=[A-Za-z0-9]{32}$`, "m"))
      const hash = new RegExp(`^${u.passwordHashEnv}='(\\$2a\\$11\\$[./A-Za-z0-9]{53})'$`, "m").exec(env)
      expect(hash, u.passwordHashEnv).not.toBeNull()
      expect(bcrypt.compareSync(passwords.get(u.name)!, hash![1]!)).toBe(true)
    }
  })
})
