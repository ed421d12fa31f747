// The console's only script and stylesheet, served from the app itself (/assets/*): no CDN, no
// fonts, no build step. The Content-Security-Policy allows scripts from this origin only, so an
// inline <script> that ever slipped past escaping would still not run.

export const consoleScript = `"use strict";
// Live parts: an element with data-poll="<url>" has its content replaced by the fragment at that
// URL every data-interval ms; with data-until-finished it stops once the fragment says finished.
document.querySelectorAll("[data-poll]").forEach(function (el) {
  var url = el.getAttribute("data-poll");
  var every = Number(el.getAttribute("data-interval") || "2000");
  var untilFinished = el.hasAttribute("data-until-finished");
  function finished() { return el.querySelector("[data-finished='true']") !== null; }
  function tick() {
    if (untilFinished && finished()) return;
    fetch(url, { credentials: "same-origin", headers: { "accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (text) { el.innerHTML = text; el.setAttribute("data-updated", String(Date.now())); })
      .catch(function () { el.setAttribute("data-stale", "true"); })
      .finally(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
});
// "Select all" boxes tick every checkbox of the same name.
document.querySelectorAll("[data-select-all]").forEach(function (box) {
  var name = box.getAttribute("data-select-all");
  box.addEventListener("change", function () {
    document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (c) { c.checked = box.checked; });
  });
});
`

export const consoleStyles = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
nav { display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #20232a; color: #eee; }
nav a { color: #9cdcfe; text-decoration: none; } nav a[aria-current] { color: #fff; font-weight: bold; }
nav .who { margin-left: auto; color: #bbb; }
main { padding: 1em 1.5em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; background: #fff; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.warn { color: #b00020; font-weight: bold; } .ok { color: #1b7f3b; } .muted { color: #777; }
tr.drift td { background: #fde7e9; } tr.update td { background: #fff6d6; }
.error { color: #b00020; } .notice { background: #eef; padding: .5em; }
.badge { background: #b00020; color: #fff; border-radius: 3px; padding: 0 .4em; font-size: .85em; }
pre { background: #fff; border: 1px solid #ddd; padding: .6em; overflow: auto; max-height: 30em; white-space: pre-wrap; word-break: break-all; }
form.inline { display: inline; } form.filters label, form.login label { margin-right: 1em; display: inline-block; }
form.login label { display: block; margin: .5em 0; }
button { cursor: pointer; } button.danger { color: #b00020; }
dl.envelope { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.envelope dt { font-weight: bold; }
ol.timeline li { margin: .3em 0; } ol.timeline span { margin-left: .8em; }
`
