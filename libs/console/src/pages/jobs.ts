import { html, type Html } from "../html.js"
import type { Job } from "../jobs.js"
import type { Session } from "../sessions.js"
import { csrfField, date, page } from "./layout.js"

const verb = (job: Job) => (job.kind === "replay" ? "replay" : "purge")

/** What a confirmed run would act on: the letters the preview found acceptable. */
export const confirmable = (job: Job) => job.results.filter((r) => r.result === "would-replay" || r.result === "would-purge")

/** The part the page polls: progress, then a result per letter, then (for a finished preview) the confirm form. */
export const jobBody = (job: Job, session: Session): Html => {
  const title = job.dryRun ? `Preview of ${verb(job)} (dry run: nothing changed)` : `${verb(job) === "replay" ? "Replay" : "Purge"}`
  const ok = confirmable(job).length
  return html`<div id="job" data-finished="${job.finished ? "true" : "false"}">
<h2>${title}</h2>
<p>Started ${date(job.startedAt)} by ${job.by}. <progress max="${job.total}" value="${job.results.length}"></progress> <span id="progress">${job.results.length} of ${job.total}</span>${job.finished ? " — finished" : " — running"}</p>
${job.error !== undefined ? html`<p class="error">Stopped: ${job.error}</p>` : ""}
<table id="results"><thead><tr><th>Seq</th><th>Original subject</th><th>Source</th><th>Result</th><th>${job.kind === "replay" ? "Republished to" : ""}</th><th>Reason</th></tr></thead>
<tbody>${job.results.map((r) => html`<tr data-seq="${r.sequence}" data-result="${r.result}"><td>#${r.sequence}</td><td><code>${r.originalSubject}</code></td><td>${r.source}</td>
<td class="${r.result === "failed" ? "warn" : "ok"}">${r.result}</td><td>${r.target !== undefined ? html`<code>${r.target}</code>` : ""}</td><td>${r.reason ?? ""}</td></tr>`)}</tbody></table>
${job.dryRun && job.finished
  ? ok === 0
    ? html`<p class="notice">Nothing to ${verb(job)}.</p>`
    : html`<form method="post" action="${`/jobs/${job.id}/confirm`}" class="actions">${csrfField(session)}
<button class="${job.kind === "purge" ? "danger" : ""}" id="confirm">Confirm: ${verb(job)} these ${ok} dead letter(s)</button> <a href="/dead-letters">cancel</a></form>`
  : ""}
${!job.dryRun && job.finished ? html`<p><a href="/dead-letters">Back to dead letters</a></p>` : ""}
</div>`
}

export const jobPage = (job: Job, session: Session) =>
  page(job.dryRun ? "Preview" : "Progress", html`<div data-poll="${`/fragments/jobs/${job.id}`}" data-interval="500" data-until-finished>${jobBody(job, session)}</div>`, session, "/dead-letters")
