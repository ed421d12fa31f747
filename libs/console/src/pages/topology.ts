import { html } from "../html.js"
import type { TopologyDiff } from "../reads/topology.js"
import type { Session } from "../sessions.js"
import { page } from "./layout.js"

const show = (v: unknown) => JSON.stringify(v)

export const topologyPage = (diff: TopologyDiff, session: Session) => {
  const s = diff.summary
  return page(
    "Topology",
    html`<p>Declared (the order domain's topology) against the server: ${s.create} missing, ${s.update} to update, <strong class="${s.drift > 0 ? "warn" : ""}">${s.drift} drifted</strong>, ${s.inSync} in sync.
Apply changes with <code>conveyor topology apply</code>; the console only reads.</p>
<table id="topology"><thead><tr><th>Resource</th><th>Status</th><th>Field</th><th>Server</th><th>Declared</th></tr></thead>
<tbody>${diff.diffs.map(({ plan, drift }) => {
      const name = `${plan.kind} ${plan.name}`
      const rows = [
        ...(plan._tag === "Update" ? plan.changes.map((c) => ({ status: "update", ...c })) : []),
        ...drift.map((c) => ({ status: "drift", ...c }))
      ]
      if (rows.length === 0) {
        return html`<tr class="${plan._tag === "Create" ? "warn" : ""}" data-resource="${name}"><td>${name}</td><td>${plan._tag === "Create" ? "missing" : "in sync"}</td><td></td><td></td><td></td></tr>`
      }
      return rows.map((r) => html`<tr class="${r.status === "drift" ? "drift" : "update"}" data-resource="${name}"><td>${name}</td><td>${r.status === "drift" ? "drift (needs an operator)" : "apply updates"}</td><td>${r.field}</td><td><code>${show(r.actual)}</code></td><td><code>${show(r.declared)}</code></td></tr>`)
    })}
${(diff.undeclared ?? []).map((n) => html`<tr class="update"><td>stream ${n}</td><td>on the server, not declared</td><td></td><td></td><td></td></tr>`)}</tbody></table>
${diff.undeclared === null ? html`<p class="muted">Undeclared streams not checked: the server would not list stream names.</p>` : ""}`,
    session,
    "/topology"
  )
}
