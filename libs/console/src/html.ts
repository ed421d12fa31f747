// The one way the console writes HTML: a template tag that escapes every interpolated value unless
// it is already `Html` (made by this tag, so escaped at its own interpolations). Message payloads,
// headers, subjects and error texts are attacker-controlled; nothing reaches a page unescaped.

export class Html {
  constructor(readonly value: string) {}
  toString() {
    return this.value
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" }

/** Text as HTML text or attribute value (quoted attributes only). */
export const escapeHtml = (text: string): string => text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!)

type Value = Html | string | number | boolean | null | undefined | ReadonlyArray<Value>

const render = (value: Value): string => {
  if (value === null || value === undefined || value === false) return ""
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return value.map(render).join("")
  return escapeHtml(String(value))
}

/** `html\`<td>${letter.subject}</td>\``: every value escaped, arrays joined, null/undefined/false empty. */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Value>): Html => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Html(out)
}

/** A URL for an href: only http(s) and site-relative ones, else "#" (no `javascript:`). */
export const safeHref = (url: string): string => (/^(https?:\/\/|\/(?!\/))/i.test(url) ? url : "#")
