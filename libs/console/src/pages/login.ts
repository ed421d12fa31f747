import { html } from "../html.js"
import type { Session } from "../sessions.js"
import { csrfField, page } from "./layout.js"

export const loginPage = (session: Session, failed: boolean, next: string) =>
  page(
    "Log in",
    html`${failed ? html`<p class="error">Unknown user or wrong password.</p>` : ""}
<form method="post" action="/login" class="login">
  ${csrfField(session)}
  <input type="hidden" name="next" value="${next}">
  <label>User <input name="user" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button>Log in</button>
</form>`
  )
