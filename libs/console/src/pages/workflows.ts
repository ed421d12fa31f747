import { html, type Html } from "../html.js"
import { instanceOf, type WorkflowView } from "../reads/workflow.js"
import type { Session } from "../sessions.js"
import { date, page, traceLink } from "./layout.js"

const form = (id: string) => html`<form method="get" action="/workflows" class="filters"><label>Instance id <input name="id" value="${id}" required></label><button>Find</button></form>`

export const workflowSearchPage = (id: string, session: Session, notice?: string) =>
  page("Workflows", html`${form(id)}${notice !== undefined ? html`<p class="notice">${notice}</p>` : ""}`, session, "/workflows")

export const workflowPage = (view: WorkflowView, session: Session, jaegerUrl: string | undefined): Html => {
  const i = instanceOf(view)
  if (i === undefined) {
    return page(`Workflow ${view.id}`, html`${form(view.id)}<p class="error">The entry does not decode as an order workflow instance: ${view.decodeError ?? ""}</p><pre>${JSON.stringify(view.raw, null, 2)}</pre>`, session, "/workflows")
  }
  const { _tag, ...details } = i.state
  return page(
    `Workflow ${view.id}`,
    html`${form(view.id)}
<dl class="envelope">
<dt>Definition</dt><dd>${i.workflow}</dd>
<dt>State</dt><dd id="state"><strong>${_tag}</strong>${i.terminal ? " (terminal)" : ""}</dd>
<dt>Details</dt><dd><code>${JSON.stringify(details)}</code></dd>
<dt>Transitions</dt><dd>${i.transitions} (attempts and retries are in the state details and the history)</dd>
<dt>Created</dt><dd>${date(i.createdAt)}</dd>
<dt>Updated</dt><dd>${date(i.updatedAt)}</dd>
<dt>Trace</dt><dd>${traceLink(jaegerUrl, view.traceId)}</dd>
<dt>Stored</dt><dd>bucket ${view.bucket}, revision ${view.revision}, ${date(new Date(view.storedAt))}</dd>
</dl>
<h2>Pending timers</h2>
${i.timers.length === 0 ? html`<p class="muted">None.</p>` : html`<table id="timers"><thead><tr><th>Timer</th><th>Due</th></tr></thead><tbody>${i.timers.map((t) => html`<tr><td>${t.name}</td><td>${date(t.dueAt)}</td></tr>`)}</tbody></table>`}
<h2>Outbox</h2>
${i.outbox.length === 0 ? html`<p class="muted">Empty: every message it produced was confirmed published.</p>` : html`<table id="outbox"><thead><tr><th>Message id</th><th>Message</th></tr></thead><tbody>${i.outbox.map((o) => html`<tr><td><code>${o.id}</code></td><td><code>${JSON.stringify(o["message"])}</code></td></tr>`)}</tbody></table>`}
<h2>Timeline</h2>
<ol id="timeline" class="timeline">${i.history.map((h) => html`<li data-seq="${h.seq}">
<time>${date(h.at)}</time> <strong class="event">${h.event}</strong>
<span class="transition">${h.from ?? "(start)"} → ${h.to}</span>
<span class="commands">${h.commands.length === 0 ? "no commands" : h.commands.map((c) => c.type).join(", ")}</span>
${(h.events ?? []).length === 0 ? "" : html`<span class="events">emitted ${(h.events ?? []).map((e) => e.type).join(", ")}</span>`}
<span class="trace">trace ${traceLink(jaegerUrl, typeof h["traceId"] === "string" ? h["traceId"] : null)}</span>
${h.causationId !== undefined ? html`<span class="muted">caused by <code>${h.causationId}</code></span>` : ""}
</li>`)}</ol>`,
    session,
    "/workflows"
  )
}
