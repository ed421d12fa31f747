import { Effect } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"

export interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes?: ReadonlyArray<{ readonly key: string; readonly value: { stringValue?: string; boolValue?: boolean; intValue?: string } }>
  readonly links?: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}

export interface OtlpExport {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ key: string; value: { stringValue?: string } }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

/** One export request as received: its parsed body plus where and how it was sent. */
export type OtlpRequest = OtlpExport & { readonly path: string; readonly contentType: string }

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

/**
 * An OTLP/HTTP receiver for the JSON encoding (what exporter-trace-otlp-http sends) on a free
 * 127.0.0.1 port, closed with the scope: proves spans really leave the process.
 */
export const otlpReceiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly received: Array<OtlpRequest>; readonly close: () => Promise<void> }>((resume) => {
    const received: Array<OtlpRequest> = []
    const server = createServer((req, res) => {
      void readBody(req).then((body) => {
        received.push({ ...(JSON.parse(body) as OtlpExport), path: req.url ?? "", contentType: req.headers["content-type"] ?? "" })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) }))
    })
  }),
  (r) => Effect.promise(r.close)
)
