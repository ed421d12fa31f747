import { html, type Html, safeHref } from "../html.js"
import type { Session } from "../sessions.js"

export const CSRF_FIELD = "csrf"

/** The hidden field every form carries: the session's CSRF token. */
export const csrfField = (session: Session) => html`<input type="hidden" name="${CSRF_FIELD}" value="${session.csrf}">`

const nav = (session: Session, current: string) => {
  const link = (href: string, label: string) => html`<a href="${href}"${current === href ? html` aria-current="page"` : ""}>${label}</a>`
  return html`<nav>
  <strong>Conveyor console</strong>
  ${link("/", "Overview")} ${link("/dead-letters", "Dead letters")} ${link("/workflows", "Workflows")} ${link("/topology", "Topology")}
  <span class="who">${session.user?.name} (${session.user?.role})</span>
  <form method="post" action="/logout" class="inline">${csrfField(session)}<button>Log out</button></form>
</nav>`
}

/** A whole page; `session` undefined for the login page. */
export const page = (title: string, body: Html, session?: Session, current = ""): Html =>
  html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Conveyor console</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
</head>
<body>
${session?.user !== undefined ? nav(session, current) : ""}
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`

export const date = (d: Date | number | undefined | null) =>
  d === undefined || d === null ? "-" : new Date(d).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")

/** A link to a trace in Jaeger, or the bare id when no Jaeger URL is configured. */
export const traceLink = (jaegerUrl: string | undefined, traceId: string | null | undefined) =>
  traceId === null || traceId === undefined || !/^[\da-f]{32}$/.test(traceId)
    ? html`-`
    : jaegerUrl === undefined
      ? html`<code>${traceId}</code>`
      : html`<a href="${safeHref(`${jaegerUrl}/trace/${traceId}`)}" rel="noreferrer noopener" target="_blank"><code>${traceId}</code></a>`

export const messagePage = (title: string, text: string, session?: Session) => page(title, html`<p class="notice">${text}</p>`, session)
