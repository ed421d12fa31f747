import { Redacted } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { canOperate, sessionCookie, Sessions } from "../src/sessions.js"

const users = [
  { name: "operator", role: "operator" as const, password: Redacted.make("op-password") },
  { name: "viewer", role: "viewer" as const, password: Redacted.make("view-password") }
]

describe("Sessions", () => {
  it("logs in with the right password only, under a new id", () => {
    const sessions = new Sessions(users, 60_000)
    const anonymous = sessions.anonymous()
    expect(sessions.login(anonymous, "operator", "wrong")).toBeUndefined()
    expect(sessions.login(anonymous, "nobody", "op-password")).toBeUndefined()
    const s = sessions.login(anonymous, "operator", "op-password")!
    expect(s.user).toEqual({ name: "operator", role: "operator" })
    expect(s.id).not.toBe(anonymous.id)
    expect(s.csrf).not.toBe(anonymous.csrf)
    expect(sessions.get(anonymous.id)).toBeUndefined()
    expect(canOperate(s)).toBe(true)
    expect(canOperate(sessions.login(undefined, "viewer", "view-password"))).toBe(false)
  })

  it("forgets a session past its lifetime and after logout", () => {
    let now = 0
    const sessions = new Sessions(users, 1_000, () => now)
    const s = sessions.login(undefined, "viewer", "view-password")!
    expect(sessions.get(s.id)).toBe(s)
    now = 1_000
    expect(sessions.get(s.id)).toBeUndefined()
    const t = sessions.login(undefined, "viewer", "view-password")!
    sessions.logout(t)
    expect(sessions.get(t.id)).toBeUndefined()
  })

  it("sets HttpOnly and SameSite=Strict, Secure when asked", () => {
    const s = new Sessions(users, 1_000).anonymous()
    expect(sessionCookie(s, false, 1_000)).toMatch(/HttpOnly; SameSite=Strict; Max-Age=1$/)
    expect(sessionCookie(s, true, 1_000)).toMatch(/; Secure$/)
  })
})
