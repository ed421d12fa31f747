import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import type { Html } from "./html.js"
import { CSRF_FIELD, messagePage } from "./pages/layout.js"
import { canOperate, sameSecret, type Session, SESSION_COOKIE } from "./sessions.js"
import { Console } from "./state.js"

/** Sent with every page: scripts and styles from this origin only, no framing, no referrer, no caching. */
export const securityHeaders: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // same-origin, not no-referrer: with no-referrer Chrome sends `Origin: null` on our own form posts.
  "referrer-policy": "same-origin",
  "cache-control": "no-store"
}

export const htmlResponse = (body: Html, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.text(body.value, { status, contentType: "text/html; charset=utf-8", headers: { ...securityHeaders, ...headers } })

export const redirect = (location: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.empty({ status: 303, headers: { ...securityHeaders, location, ...headers } })

export const requestUrl = Effect.map(HttpServerRequest.HttpServerRequest, (r) => new URL(r.url, "http://console.invalid"))

/** The caller's session, when its cookie names a live one. */
export const currentSession = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const { sessions } = yield* Console
  return sessions.get(request.cookies[SESSION_COOKIE])
})

/** The form fields of a POST (urlencoded), at most 64 KiB. */
export const formBody = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const text = yield* request.text
  return new URLSearchParams(text.length > 65_536 ? "" : text)
})

/** A page for a logged-in user; anyone else is sent to the login page (fragments get 401). */
export const authed = <E, R>(handler: (session: Session) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>, fragment = false) =>
  Effect.gen(function* () {
    const session = yield* currentSession
    if (session?.user === undefined) {
      if (fragment) return HttpServerResponse.text("log in first", { status: 401, headers: securityHeaders })
      const url = yield* requestUrl
      return redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`)
    }
    return yield* handler(session)
  })

const sameOrigin = (origin: string | undefined, host: string | undefined) => {
  if (origin === undefined) return true // not a browser, or a same-origin GET-initiated form in an old one
  try {
    return host !== undefined && new URL(origin).host === host
  } catch {
    return false
  }
}

/** Who may post a form: an operator, any logged-in user, or (the login form only) anyone with a session. */
export type Allowed = "operator" | "user" | "session"

/**
 * A form POST: the caller needs a session (the login form) or a logged-in one (401), the session's
 * CSRF token in the form (403), this origin when the browser says where the form came from (403),
 * and for actions the operator role (403). Only then does `handler` run.
 */
export const action = <E, R>(handler: (session: Session, form: URLSearchParams) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>, allowed: Allowed = "operator") =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const session = yield* currentSession
    if (session === undefined || (allowed !== "session" && session.user === undefined)) {
      return yield* htmlResponse(messagePage("Not logged in", "Log in first (your session may have expired)."), 401)
    }
    const form = yield* formBody
    if (!sameOrigin(request.headers["origin"], request.headers["host"])) return yield* htmlResponse(messagePage("Refused", "Cross-origin request refused.", session), 403)
    if (!sameSecret(form.get(CSRF_FIELD) ?? "", session.csrf)) {
      return yield* htmlResponse(messagePage("Refused", "Missing or stale form token (CSRF): reload the page and try again.", session), 403)
    }
    if (allowed === "operator" && !canOperate(session)) return yield* htmlResponse(messagePage("Refused", "Only an operator may do this; you are logged in read-only.", session), 403)
    return yield* handler(session, form)
  })
