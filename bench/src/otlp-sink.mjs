// A local OTLP/HTTP (JSON) trace receiver in its own process, so parsing what the exporter sends
// does not eat into the measured process's CPU budget. Prints its port; GET /count answers the
// number of spans received so far.
import { Buffer } from "node:buffer"
import { createServer } from "node:http"

let spans = 0
const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/count") return void res.end(JSON.stringify({ spans }))
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length
    } catch {
      // not JSON: still answer, the exporter only needs a 2xx
    }
    res.writeHead(200, { "content-type": "application/json" })
    res.end("{}")
  })
})
server.listen(0, "127.0.0.1", () => console.log(String(server.address().port)))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
