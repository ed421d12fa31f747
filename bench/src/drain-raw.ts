// Child process of the RSS figure, raw side: consume + JSON.parse + ack. Imports no Conveyor module.
import { jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { concurrency, count, durable, measureDrain, stream, url } from "./drain-common.js"

await measureDrain(async () => {
  const nc = await connect({ servers: url })
  const consumer = await jetstream(nc).consumers.get(stream, durable)
  const messages = await consumer.consume({ max_messages: concurrency })
  const decoder = new TextDecoder()
  let seen = 0
  for await (const m of messages) {
    JSON.parse(decoder.decode(m.data))
    m.ack()
    if (++seen === count) break
  }
  await nc.drain()
})
