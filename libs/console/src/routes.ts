import { orderTopology } from "@conveyor/domain"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { consoleScript, consoleStyles } from "./assets.js"
import { groupLetters, type LetterQuery } from "./dead-letter-index.js"
import { action, authed, currentSession, htmlResponse, redirect, requestUrl } from "./http.js"
import { type JobKind } from "./jobs.js"
import { deadLettersPage, letterPage, PAGE_SIZE, type QueryParams } from "./pages/dead-letters.js"
import { confirmable, jobBody, jobPage } from "./pages/jobs.js"
import { messagePage } from "./pages/layout.js"
import { loginPage } from "./pages/login.js"
import { type Overview, overviewPage, overviewTables, type Readiness } from "./pages/overview.js"
import { topologyPage } from "./pages/topology.js"
import { workflowPage, workflowSearchPage } from "./pages/workflows.js"
import { collectStatus } from "./reads/status.js"
import { diffTopology } from "./reads/topology.js"
import { readWorkflow } from "./reads/workflow.js"
import { sessionCookie } from "./sessions.js"
import { Console } from "./state.js"

const probe = async (name: string, url: string): Promise<Readiness> => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    const body = (await response.json().catch(() => undefined)) as { failing?: ReadonlyArray<string> } | undefined
    const failing = Array.isArray(body?.failing) ? body.failing.join(", ") : ""
    return { name, url, ready: response.ok, detail: response.ok ? "" : `${response.status}${failing !== "" ? `: ${failing}` : ""}` }
  } catch (e) {
    return { name, url, ready: false, detail: `unreachable: ${e instanceof Error ? e.message : String(e)}` }
  }
}

const overview = Effect.gen(function* () {
  const { config, index } = yield* Console
  const [status, , readiness] = yield* Effect.all([
    collectStatus({ streams: [], includeKv: true }),
    index.refresh(),
    Effect.promise(() => Promise.all(config.readyz.map((t) => probe(t.name, t.url))))
  ], { concurrency: "unbounded" })
  return { status, deadLetterDepth: index.depthBySource(), readiness } satisfies Overview
})

const RELATIVE = /^(\d+)\s*(s|m|h|d)$/
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** An ISO time or a duration back from now (30m, 2h, 7d). */
export const parseTime = (value: string, now: Date): Date | undefined => {
  const relative = RELATIVE.exec(value.trim())
  if (relative !== null) return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS])
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : new Date(t)
}

const FIELDS = ["subject", "since", "until", "error", "group", "source"] as const

const paramsOf = (get: (name: string) => string | null): QueryParams =>
  Object.fromEntries(FIELDS.map((f) => [f, (get(f) ?? "").trim()])) as unknown as QueryParams

const queryOf = (p: QueryParams): { query: LetterQuery; error: string | undefined } => {
  const now = new Date()
  const since = p.since === "" ? undefined : parseTime(p.since, now)
  const until = p.until === "" ? undefined : parseTime(p.until, now)
  const bad = [p.since !== "" && since === undefined ? "since" : "", p.until !== "" && until === undefined ? "until" : ""].filter((x) => x !== "")
  return {
    query: {
      ...(p.subject !== "" ? { subject: p.subject } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(p.error !== "" ? { errorText: p.error } : {}),
      ...(p.group !== "" ? { group: p.group } : {}),
      ...(p.source !== "" ? { source: p.source } : {})
    },
    error: bad.length === 0 ? undefined : `${bad.join(" and ")}: expected an ISO time (2026-01-31T12:00:00Z) or a duration back from now (30m, 2h, 7d); ignored`
  }
}

const deadLetters = authed((session) =>
  Effect.gen(function* () {
    const { index } = yield* Console
    yield* index.refresh()
    const url = yield* requestUrl
    const params = paramsOf((n) => url.searchParams.get(n))
    const { query, error } = queryOf(params)
    const matching = index.query(query)
    const pages = Math.ceil(matching.length / PAGE_SIZE)
    const pageNo = Math.min(Math.max(1, Number(url.searchParams.get("page") ?? "1") || 1), Math.max(1, pages))
    const { group: _group, ...withoutGroup } = query
    return yield* htmlResponse(deadLettersPage({
      params, total: matching.length, pages, page: pageNo, queryError: error,
      // Groups over the filter without the group itself, so the other groups stay in view.
      groups: groupLetters(query.group === undefined ? matching : index.query(withoutGroup)),
      letters: matching.slice((pageNo - 1) * PAGE_SIZE, pageNo * PAGE_SIZE)
    }, session))
  })
)

const oneLetter = authed((session) =>
  Effect.gen(function* () {
    const { index, config } = yield* Console
    const { seq } = yield* HttpLayerRouter.params
    yield* index.refresh()
    const letter = index.get(Number(seq))
    if (letter === undefined) return yield* htmlResponse(messagePage("Not found", `No dead letter #${seq ?? ""} (replayed, purged or never stored).`, session), 404)
    return yield* htmlResponse(letterPage(letter, session, config.jaegerUrl))
  })
)

/** Replay or purge: always a dry run first; the preview page offers the confirmation. */
const preview = action((session, form) =>
  Effect.gen(function* () {
    const { index, jobs } = yield* Console
    const kind = form.get("action")
    if (kind !== "replay" && kind !== "purge") return yield* htmlResponse(messagePage("Bad request", "Unknown action.", session), 400)
    yield* index.refresh(true)
    const seqs = form.getAll("seq").map(Number).filter((n) => Number.isInteger(n) && n > 0)
    const params = paramsOf((n) => form.get(n))
    // Never "everything" by default: named letters, or a group.
    const letters = seqs.length > 0
      ? seqs.flatMap((s) => { const l = index.get(s); return l === undefined ? [] : [l] })
      : params.group !== "" ? index.query(queryOf(params).query) : []
    if (letters.length === 0) return yield* htmlResponse(messagePage("Nothing selected", "Select dead letters or a group first.", session), 400)
    const job = jobs.start(kind as JobKind, letters.map((l) => l.sequence).sort((a, b) => a - b), true, session.user!.name)
    return redirect(`/jobs/${job.id}`)
  })
)

const confirm = action((session) =>
  Effect.gen(function* () {
    const { jobs } = yield* Console
    const { id } = yield* HttpLayerRouter.params
    const previewed = jobs.get(id ?? "")
    if (previewed === undefined || !previewed.dryRun || !previewed.finished) {
      return yield* htmlResponse(messagePage("Not found", "No finished preview with that id: preview again.", session), 404)
    }
    const job = jobs.start(previewed.kind, confirmable(previewed).map((r) => r.sequence), false, session.user!.name)
    return redirect(`/jobs/${job.id}`)
  })
)

const jobRoute = (fragment: boolean) =>
  authed((session) =>
    Effect.gen(function* () {
      const { jobs } = yield* Console
      const { id } = yield* HttpLayerRouter.params
      const job = jobs.get(id ?? "")
      if (job === undefined) return yield* htmlResponse(messagePage("Not found", "No such job (the console keeps the last 100).", session), 404)
      return yield* htmlResponse(fragment ? jobBody(job, session) : jobPage(job, session))
    }), fragment)

const workflows = authed((session) =>
  Effect.gen(function* () {
    const { config } = yield* Console
    const id = ((yield* requestUrl).searchParams.get("id") ?? "").trim()
    if (id === "") return yield* htmlResponse(workflowSearchPage("", session))
    return yield* readWorkflow(id, config.workflowBucket).pipe(
      Effect.flatMap((view) => htmlResponse(workflowPage(view, session, config.jaegerUrl))),
      Effect.catchTag("WorkflowNotFound", (e) => htmlResponse(workflowSearchPage(id, session, e.message), 404)),
      Effect.catchTag("OperatorReadError", (e) => htmlResponse(workflowSearchPage(id, session, e.message), /not found/i.test(e.message) ? 404 : 503))
    )
  })
)

const topology = authed((session) => Effect.flatMap(diffTopology(orderTopology), (diff) => htmlResponse(topologyPage(diff, session))))

const login = Effect.gen(function* () {
  const { sessions, config } = yield* Console
  const url = yield* requestUrl
  const existing = yield* currentSession
  const session = existing ?? sessions.anonymous()
  const next = url.searchParams.get("next") ?? "/"
  return yield* htmlResponse(loginPage(session, url.searchParams.has("failed"), next), 200, existing === undefined ? { "set-cookie": sessionCookie(session, config.secureCookie, config.sessionTtlMs) } : {})
})

/** Only paths on this site: `next` must not send the user elsewhere after login. */
const localPath = (next: string | null) => (next !== null && /^\/(?![/\\])/.test(next) ? next : "/")

const loginPost = action((session, form) =>
  Effect.gen(function* () {
    const { sessions, config } = yield* Console
    const next = localPath(form.get("next"))
    const fresh = sessions.login(session, form.get("user") ?? "", form.get("password") ?? "")
    if (fresh === undefined) return redirect(`/login?failed&next=${encodeURIComponent(next)}`)
    return redirect(next, { "set-cookie": sessionCookie(fresh, config.secureCookie, config.sessionTtlMs) })
  }), "session")

const logout = action((session) =>
  Effect.gen(function* () {
    const { sessions, config } = yield* Console
    sessions.logout(session)
    return redirect("/login", { "set-cookie": sessionCookie(session, config.secureCookie, 0) })
  }), "user")

const asset = (body: string, contentType: string) =>
  HttpServerResponse.text(body, { contentType, headers: { "cache-control": "no-cache", "x-content-type-options": "nosniff" } })

/** Failures of a page: one line, escaped, 500 (or 503 when NATS did not answer). */
const guarded = <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  handler.pipe(
    Effect.catchAll((e) =>
      Effect.zipRight(
        Effect.logError("console request failed", { error: e instanceof Error ? e.message : String(e) }),
        htmlResponse(messagePage("Error", `The console could not read from NATS: ${e instanceof Error ? e.message : String(e)}`), 503)
      )
    )
  )

export const ConsoleRoutes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/assets/console.js", asset(consoleScript, "text/javascript; charset=utf-8")),
  HttpLayerRouter.route("GET", "/assets/console.css", asset(consoleStyles, "text/css; charset=utf-8")),
  HttpLayerRouter.route("GET", "/login", guarded(login)),
  HttpLayerRouter.route("POST", "/login", guarded(loginPost)),
  HttpLayerRouter.route("POST", "/logout", guarded(logout)),
  HttpLayerRouter.route("GET", "/", guarded(authed((session) => Effect.flatMap(overview, (o) => htmlResponse(overviewPage(o, session)))))),
  HttpLayerRouter.route("GET", "/fragments/overview", guarded(authed(() => Effect.flatMap(overview, (o) => htmlResponse(overviewTables(o))), true))),
  HttpLayerRouter.route("GET", "/dead-letters", guarded(deadLetters)),
  HttpLayerRouter.route("GET", "/dead-letters/:seq", guarded(oneLetter)),
  HttpLayerRouter.route("POST", "/dead-letters/preview", guarded(preview)),
  HttpLayerRouter.route("GET", "/jobs/:id", guarded(jobRoute(false))),
  HttpLayerRouter.route("GET", "/fragments/jobs/:id", guarded(jobRoute(true))),
  HttpLayerRouter.route("POST", "/jobs/:id/confirm", guarded(confirm)),
  HttpLayerRouter.route("GET", "/workflows", guarded(workflows)),
  HttpLayerRouter.route("GET", "/topology", guarded(topology))
])
