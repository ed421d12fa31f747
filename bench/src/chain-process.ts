// One part of a comparison chain as its own process, for the chain section's scale-out rows
// (started by chain-processes.ts, stopped by its pid with SIGTERM):
//   node bench/dist/chain-process.js raw ingress | raw hop <n>        (NATS_URL)
//   node bench/dist/chain-process.js bullmq ingress | bullmq step <n> (REDIS_PORT, BULLMQ_PREFIX, BULLMQ_CONCURRENCY)
// Prints `ready <base URL, or ->` once it serves.
// Each side loads only its own client (a raw hop does not load BullMQ).

const [side, role, index] = process.argv.slice(2)
const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`chain-process: ${name} is not set`)
  return value
}

const start = async (): Promise<{ readonly base: string; readonly close: () => Promise<unknown> }> => {
  if (side === "raw") {
    const [{ jetstream }, { connect }, { runRawHop, serveRawIngress }] = await Promise.all([import("@nats-io/jetstream"), import("@nats-io/transport-node"), import("./raw-chain.js")])
    const nc = await connect({ servers: env("NATS_URL").split(","), name: `raw-${role}${index ?? ""}` })
    const js = jetstream(nc)
    if (role === "ingress") {
      const ingress = await serveRawIngress(js)
      return { base: ingress.base, close: async () => (await ingress.close(), await nc.drain()) }
    }
    const hop = await runRawHop(js, Number(index))
    return { base: "-", close: async () => (hop.stop(), await nc.drain()) }
  }
  if (side === "bullmq") {
    const { serveBullmqIngress, startBullmqStep } = await import("./bullmq-chain.js")
    const port = Number(env("REDIS_PORT"))
    if (role === "ingress") return serveBullmqIngress(port, env("BULLMQ_PREFIX"))
    const step = await startBullmqStep(port, env("BULLMQ_PREFIX"), Number(index), Number(env("BULLMQ_CONCURRENCY")))
    return { base: "-", close: step.close }
  }
  throw new Error(`chain-process: unknown side ${side}`)
}

const started = await start()
process.once("SIGTERM", () => void started.close().finally(() => process.exit(0)))
process.stdout.write(`ready ${started.base}\n`)
