import { DeadLetterHeaders } from "@conveyor/messaging"
import type { DeadLetter } from "@conveyor/nats"
import type { LetterGroup } from "../dead-letter-index.js"
import { html, type Html } from "../html.js"
import { viewPayload } from "../reads/payload.js"
import { canOperate, type Session } from "../sessions.js"
import { csrfField, date, page, traceLink } from "./layout.js"

export const PAGE_SIZE = 50

/** The query as it appears in the page's form fields and links. */
export interface QueryParams {
  readonly subject: string
  readonly since: string
  readonly until: string
  readonly error: string
  readonly group: string
  readonly source: string
}

const toSearch = (p: QueryParams, extra: Record<string, string> = {}) => {
  const s = new URLSearchParams()
  for (const [k, v] of Object.entries({ ...p, ...extra })) if (v !== "") s.set(k, v)
  const text = s.toString()
  return text === "" ? "" : `?${text}`
}

/** Hidden inputs carrying the current filter into an action form. */
const filterFields = (p: QueryParams) =>
  Object.entries(p).map(([k, v]) => (v === "" ? "" : html`<input type="hidden" name="${k}" value="${v}">`))

const shorten = (text: string, max = 120) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

export const isReplayAgain = (l: DeadLetter) => l.headers[DeadLetterHeaders.replayOf] !== undefined

const groupsTable = (groups: ReadonlyArray<LetterGroup>, p: QueryParams, session: Session) =>
  groups.length === 0
    ? html`<p class="muted">No dead letters match.</p>`
    : html`<table id="groups"><thead><tr><th>Source durable</th><th>Error</th><th>Count</th><th>First seen</th><th>Last seen</th><th>Sample</th>${canOperate(session) ? html`<th>Actions</th>` : ""}</tr></thead>
<tbody>${groups.map((g) => html`<tr data-group="${g.key}">
<td>${g.source}</td><td><code>${g.errorTag}</code></td><td class="num">${g.count}</td><td>${date(g.firstSeen)}</td><td>${date(g.lastSeen)}</td>
<td><a href="${`/dead-letters/${g.sample.sequence}`}">#${g.sample.sequence}</a> <span class="muted">${shorten(g.sample.errorMessage, 80)}</span></td>
${canOperate(session) ? html`<td>
<a href="${`/dead-letters${toSearch({ ...p, group: g.key })}`}">show</a>
<form method="post" action="/dead-letters/preview" class="inline">${csrfField(session)}${filterFields({ ...p, group: g.key })}<input type="hidden" name="action" value="replay"><button>Replay group…</button></form>
<form method="post" action="/dead-letters/preview" class="inline">${csrfField(session)}${filterFields({ ...p, group: g.key })}<input type="hidden" name="action" value="purge"><button class="danger">Purge group…</button></form>
</td>` : ""}</tr>`)}</tbody></table>`

const lettersTable = (letters: ReadonlyArray<DeadLetter>, session: Session) =>
  html`<table id="letters"><thead><tr>${canOperate(session) ? html`<th><input type="checkbox" data-select-all="seq" aria-label="select all"></th>` : ""}<th>Seq</th><th>Dead-lettered</th><th>Original subject</th><th>Source</th><th>Attempts</th><th>Reason</th><th>Error</th></tr></thead>
<tbody>${letters.map((l) => html`<tr data-seq="${l.sequence}">
${canOperate(session) ? html`<td><input type="checkbox" name="seq" value="${l.sequence}" form="selection" aria-label="${`select ${l.sequence}`}"></td>` : ""}
<td><a href="${`/dead-letters/${l.sequence}`}">#${l.sequence}</a>${isReplayAgain(l) ? html` <span class="badge">failed again after replay</span>` : ""}</td>
<td>${date(l.deadLetteredAt)}</td><td><code>${l.originalSubject}</code></td><td>${l.originalStream}/${l.consumer}</td><td class="num">${l.attempts}</td><td>${l.reason}</td>
<td><code>${l.errorTag}</code>: ${shorten(l.errorMessage)}</td></tr>`)}</tbody></table>`

export interface DeadLettersView {
  readonly params: QueryParams
  readonly total: number
  readonly groups: ReadonlyArray<LetterGroup>
  readonly letters: ReadonlyArray<DeadLetter>
  readonly page: number
  readonly pages: number
  readonly queryError: string | undefined
}

export const deadLettersPage = (v: DeadLettersView, session: Session): Html => {
  const p = v.params
  const pager = html`<p class="pager">Page ${v.page} of ${Math.max(1, v.pages)} (${v.total} matching)
${v.page > 1 ? html`<a href="${`/dead-letters${toSearch(p, { page: String(v.page - 1) })}`}">previous</a>` : ""}
${v.page < v.pages ? html`<a href="${`/dead-letters${toSearch(p, { page: String(v.page + 1) })}`}" rel="next">next</a>` : ""}</p>`
  return page(
    "Dead letters",
    html`<form method="get" action="/dead-letters" class="filters">
<label>Subject <input name="subject" value="${p.subject}" placeholder="orders.commands.>"></label>
<label>Since <input name="since" value="${p.since}" placeholder="2026-01-31T12:00:00Z or 2h"></label>
<label>Until <input name="until" value="${p.until}"></label>
<label>Error text <input name="error" value="${p.error}"></label>
${p.group !== "" ? html`<input type="hidden" name="group" value="${p.group}">` : ""}
${p.source !== "" ? html`<input type="hidden" name="source" value="${p.source}">` : ""}
<button>Filter</button> <a href="/dead-letters">clear</a>
</form>
${v.queryError !== undefined ? html`<p class="error">${v.queryError}</p>` : ""}
${p.group !== "" ? html`<p>Group <code>${p.group}</code> only.</p>` : ""}
<h2>Groups</h2>
${groupsTable(v.groups, p, session)}
<h2>Letters</h2>
${canOperate(session) ? html`<form method="post" action="/dead-letters/preview" id="selection" class="actions">${csrfField(session)}
<button name="action" value="replay">Replay selected…</button> <button name="action" value="purge" class="danger">Purge selected…</button></form>` : ""}
${lettersTable(v.letters, session)}
${pager}`,
    session,
    "/dead-letters"
  )
}

export const letterPage = (l: DeadLetter, session: Session, jaegerUrl: string | undefined): Html => {
  const payload = viewPayload(l.originalSubject, l.payload)
  const traceparent = l.headers[DeadLetterHeaders.originalTraceparent] ?? l.headers["traceparent"]
  const traceId = traceparent?.split("-")[1]
  return page(
    `Dead letter #${l.sequence}`,
    html`<dl class="envelope">
<dt>Dead-lettered</dt><dd>${date(l.deadLetteredAt)} (${l.reason}, after ${l.attempts} attempt(s))</dd>
<dt>Original subject</dt><dd><code>${l.originalSubject}</code></dd>
<dt>Original</dt><dd>stream ${l.originalStream} #${l.originalSequence}, message id <code>${l.originalMessageId}</code></dd>
<dt>Source durable</dt><dd>${l.originalStream}/${l.consumer}</dd>
<dt>Error</dt><dd><code>${l.errorTag}</code>: <span id="error-message">${l.errorMessage}</span></dd>
<dt>Original trace</dt><dd>${traceLink(jaegerUrl, traceId)}</dd>
${isReplayAgain(l) ? html`<dt>History</dt><dd class="warn">Failed again after a replay of <code>${l.headers[DeadLetterHeaders.replayOf]}</code></dd>` : ""}
</dl>
<h2>Payload</h2>
${payload.kind === "json"
  ? html`<p>${l.payload.length} bytes, JSON${payload.note !== undefined ? html`; ${payload.note}` : ""}</p><pre id="payload">${payload.text}</pre>`
  : payload.kind === "text"
    ? html`<p>${l.payload.length} bytes, text, not JSON: it does not decode as a message.</p><pre id="payload">${payload.text}</pre>`
    : html`<p>${l.payload.length} bytes, not UTF-8 (base64 below): it does not decode as a message.</p><pre id="payload">${payload.base64}</pre>`}
<h2>Headers</h2>
<table id="headers"><tbody>${Object.keys(l.headers).sort().map((k) => html`<tr><th>${k}</th><td><code>${l.headers[k]}</code></td></tr>`)}</tbody></table>
${canOperate(session) ? html`<form method="post" action="/dead-letters/preview" class="actions">${csrfField(session)}<input type="hidden" name="seq" value="${l.sequence}">
<button name="action" value="replay">Replay…</button> <button name="action" value="purge" class="danger">Purge…</button></form>` : ""}`,
    session,
    "/dead-letters"
  )
}
