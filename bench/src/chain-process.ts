// Parts of a chain as one process, for the chain section's scale-out rows (started by
// chain-processes.ts, stopped by its pid with SIGTERM):
//   node bench/dist/chain-process.js raw <part>...       parts: ingress, or a hop's index (NATS_URL)
//   node bench/dist/chain-process.js bullmq <part>...    parts: ingress, or a step's index (REDIS_PORT, BULLMQ_PREFIX, BULLMQ_CONCURRENCY)
//   node bench/dist/chain-process.js conveyor <app>...   order apps: gateway, orchestrator, inventory-worker, ... (NATS_URL)
// Prints `ready <base URL, or ->` once it serves: the ingress's or the gateway's, when it runs one.
// Each side loads only its own client (a raw hop does not load BullMQ).

const [side, ...parts] = process.argv.slice(2)
const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`chain-process: ${name} is not set`)
  return value
}
interface Started {
  readonly base: string
  readonly close: () => Promise<unknown>
}
const indexOf = (part: string): number => {
  const index = Number(part)
  if (!Number.isInteger(index) || index < 0) throw new Error(`chain-process: ${side} part ${part} is neither ingress nor an index`)
  return index
}

const start = async (): Promise<Started> => {
  if (parts.length === 0) throw new Error(`chain-process: no part given for ${side}`)
  if (side === "raw") {
    const [{ jetstream }, { connect }, { runRawHop, serveRawIngress }] = await Promise.all([import("@nats-io/jetstream"), import("@nats-io/transport-node"), import("./raw-chain.js")])
    const nc = await connect({ servers: env("NATS_URL").split(","), name: `raw-${parts.join("-")}` })
    const js = jetstream(nc)
    const ingress = parts.includes("ingress") ? await serveRawIngress(js) : undefined
    const hops = await Promise.all(parts.filter((p) => p !== "ingress").map((p) => runRawHop(js, indexOf(p))))
    return {
      base: ingress?.base ?? "-",
      close: async () => {
        await ingress?.close()
        for (const hop of hops) hop.stop()
        await nc.drain()
      }
    }
  }
  if (side === "bullmq") {
    const { serveBullmqIngress, startBullmqStep } = await import("./bullmq-chain.js")
    const port = Number(env("REDIS_PORT"))
    const ingress = parts.includes("ingress") ? await serveBullmqIngress(port, env("BULLMQ_PREFIX")) : undefined
    const steps = await Promise.all(parts.filter((p) => p !== "ingress").map((p) => startBullmqStep(port, env("BULLMQ_PREFIX"), indexOf(p), Number(env("BULLMQ_CONCURRENCY")))))
    return {
      base: ingress?.base ?? "-",
      close: async () => {
        await ingress?.close()
        await Promise.all(steps.map((s) => s.close()))
      }
    }
  }
  if (side === "conveyor") {
    const { conveyorStack, isConveyorApp } = await import("./workflow.js")
    const unknown = parts.filter((p) => !isConveyorApp(p))
    if (unknown.length > 0) throw new Error(`chain-process: unknown order app(s) ${unknown.join(", ")}`)
    const stack = await conveyorStack(env("NATS_URL"), 1, parts.filter(isConveyorApp))
    return { base: parts.includes("gateway") ? stack.base : "-", close: stack.close }
  }
  throw new Error(`chain-process: unknown side ${side}`)
}

const started = await start()
process.once("SIGTERM", () => void started.close().finally(() => process.exit(0)))
process.stdout.write(`ready ${started.base}\n`)
