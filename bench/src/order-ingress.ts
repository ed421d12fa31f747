import { createServer } from "node:http"

/**
 * The `POST /orders` stand-in of the bench's comparison sides (the BullMQ chain, the raw nats.js
 * chain): reads the JSON body, hands it to `accept`, answers 202 once that resolves, else 503.
 * Listens on a free loopback port.
 */
export const serveOrderIngress = async (accept: (body: Buffer, order: { orderId: string }) => Promise<unknown>) => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const order = JSON.parse(body.toString("utf8")) as { orderId: string }
      accept(body, order).then(
        () => {
          res.writeHead(202, { "content-type": "application/json" })
          res.end(JSON.stringify({ orderId: order.orderId, status: "accepted" }))
        },
        () => {
          res.writeHead(503)
          res.end()
        }
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  return {
    base: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
