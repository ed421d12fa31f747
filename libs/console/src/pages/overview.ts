import type { StatusReport } from "../reads/status.js"
import { html, type Html } from "../html.js"
import type { Session } from "../sessions.js"
import { date, page } from "./layout.js"

export interface Readiness {
  readonly name: string
  readonly url: string
  readonly ready: boolean
  /** The failing checks, or why the probe failed. */
  readonly detail: string
}

export interface Overview {
  readonly status: StatusReport
  readonly deadLetterDepth: ReadonlyMap<string, number>
  readonly readiness: ReadonlyArray<Readiness>
}

const num = (n: number, warn = false) => html`<td class="num${warn && n > 0 ? " warn" : ""}">${n}</td>`

/** The tables the page polls for (`/fragments/overview`), so they update without a reload. */
export const overviewTables = (o: Overview): Html => {
  const dlq = [...o.deadLetterDepth.entries()].sort((a, b) => b[1] - a[1])
  return html`<p class="muted">As of <time>${date(new Date(o.status.at))}</time>, refreshed every 2 s.</p>
<h2>Consumers</h2>
<table id="consumers">
<thead><tr><th>Stream / durable</th><th>Pending</th><th>Ack pending</th><th>Redelivered</th><th>Waiting pulls</th><th>Lag</th><th>Dead letters</th><th>Last active</th></tr></thead>
<tbody>${o.status.consumers.map((c) => html`<tr data-consumer="${`${c.stream}/${c.consumer}`}">
<td>${c.stream}/${c.consumer}</td>${num(c.pending)}${num(c.ackPending)}${num(c.redelivered)}${num(c.waiting)}<td class="num lag${c.lag > 0 ? " warn" : ""}">${c.lag}</td>${num(o.deadLetterDepth.get(`${c.stream}/${c.consumer}`) ?? 0, true)}<td>${date(c.lastActive === null ? null : new Date(c.lastActive))}</td></tr>`)}</tbody>
</table>
<h2>Streams</h2>
<table id="streams">
<thead><tr><th>Stream</th><th>Messages</th><th>Bytes</th><th>First seq</th><th>Last seq</th><th>Consumers</th></tr></thead>
<tbody>${o.status.streams.map((s) => html`<tr><td>${s.stream}</td>${num(s.messages)}${num(s.bytes)}${num(s.firstSeq)}${num(s.lastSeq)}${num(s.consumers)}</tr>`)}</tbody>
</table>
<h2>Dead letters by source durable</h2>
${dlq.length === 0
  ? html`<p class="muted">No dead letters.</p>`
  : html`<table id="dlq-depth"><thead><tr><th>Source</th><th>Dead letters</th></tr></thead>
<tbody>${dlq.map(([source, n]) => html`<tr><td><a href="${`/dead-letters?source=${encodeURIComponent(source)}`}">${source}</a></td>${num(n, true)}</tr>`)}</tbody></table>`}
<h2>Apps</h2>
${o.readiness.length === 0
  ? html`<p class="muted">No apps configured (CONSOLE_READYZ_URLS).</p>`
  : html`<table id="apps"><thead><tr><th>App</th><th>Ready</th><th>Detail</th></tr></thead>
<tbody>${o.readiness.map((r) => html`<tr data-app="${r.name}"><td>${r.name}</td><td class="${r.ready ? "ok" : "warn"}">${r.ready ? "ready" : "not ready"}</td><td>${r.detail}</td></tr>`)}</tbody></table>`}`
}

export const overviewPage = (o: Overview, session: Session) =>
  page("Overview", html`<div data-poll="/fragments/overview" data-interval="2000">${overviewTables(o)}</div>`, session, "/")
