import { describe, expect, it } from "@effect/vitest"
import { escapeHtml, html, safeHref } from "../src/html.js"

describe("html", () => {
  it("escapes every interpolated value", () => {
    const payload = `<script>window.pwned=1</script>"'\`&`
    expect(html`<td title="${payload}">${payload}</td>`.value).toBe(
      "<td title=\"&lt;script&gt;window.pwned=1&lt;/script&gt;&quot;&#39;&#96;&amp;\">&lt;script&gt;window.pwned=1&lt;/script&gt;&quot;&#39;&#96;&amp;</td>"
    )
  })

  it("does not escape Html twice, joins arrays, drops null, undefined and false", () => {
    const inner = html`<b>${"<i>"}</b>`
    expect(html`${inner}${[html`<br>`, "<x>"]}${null}${undefined}${false}${0}`.value).toBe("<b>&lt;i&gt;</b><br>&lt;x&gt;0")
  })

  it("escapes the characters that end an attribute or start markup", () => {
    expect(escapeHtml(`a<b>c"d'e&f`)).toBe("a&lt;b&gt;c&quot;d&#39;e&amp;f")
  })

  it("allows only http(s) and site-relative links", () => {
    expect(safeHref("javascript:alert(1)")).toBe("#")
    expect(safeHref("//evil.example/x")).toBe("#")
    expect(safeHref("http://localhost:16686/trace/abc")).toBe("http://localhost:16686/trace/abc")
    expect(safeHref("/dead-letters/3")).toBe("/dead-letters/3")
  })
})
