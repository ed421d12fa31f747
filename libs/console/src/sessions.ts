import { Redacted } from "effect"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { ConsoleUser, Role } from "./config.js"

/**
 * Server-side sessions. Every visitor gets one (anonymous until login) so the login form is
 * CSRF-protected like every other form; logging in replaces the session id (no fixation). The
 * cookie holds only a random id; the CSRF token lives in the session and in each form, never in a
 * cookie, so another site can neither read nor forge it (and the cookie is SameSite=Strict anyway).
 */
export interface Session {
  readonly id: string
  readonly csrf: string
  readonly user: { readonly name: string; readonly role: Role } | undefined
  readonly expiresAt: number
}

export const SESSION_COOKIE = "conveyor_console"

const token = () => randomBytes(32).toString("base64url")
const digest = (s: string) => createHash("sha256").update(s).digest()
/** Constant-time comparison of two strings of any length. */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))

export class Sessions {
  private readonly byId = new Map<string, Session>()
  constructor(private readonly users: ReadonlyArray<ConsoleUser>, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined
    const s = this.byId.get(id)
    if (s === undefined) return undefined
    if (s.expiresAt <= this.now()) {
      this.byId.delete(id)
      return undefined
    }
    return s
  }

  anonymous(): Session {
    this.sweep()
    const s: Session = { id: token(), csrf: token(), user: undefined, expiresAt: this.now() + this.ttlMs }
    this.byId.set(s.id, s)
    return s
  }

  /** A new session for the user whose name and password match, replacing `previous`; undefined when none does. */
  login(previous: Session | undefined, name: string, password: string): Session | undefined {
    // Check every user, so timing does not tell which names exist.
    let found: ConsoleUser | undefined
    for (const u of this.users) if (sameSecret(u.name, name) && sameSecret(Redacted.value(u.password), password)) found = u
    if (found === undefined) return undefined
    if (previous !== undefined) this.byId.delete(previous.id)
    const s: Session = { id: token(), csrf: token(), user: { name: found.name, role: found.role }, expiresAt: this.now() + this.ttlMs }
    this.byId.set(s.id, s)
    return s
  }

  logout(session: Session): void {
    this.byId.delete(session.id)
  }

  private sweep() {
    const now = this.now()
    for (const [id, s] of this.byId) if (s.expiresAt <= now) this.byId.delete(id)
  }
}

/** The Set-Cookie value for a session: HttpOnly, SameSite=Strict, Secure when served over TLS. */
export const sessionCookie = (session: Session, secure: boolean, maxAgeMs: number): string =>
  `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? "; Secure" : ""}`

export const canOperate = (session: Session | undefined): boolean => session?.user?.role === "operator"
