// Shared by the drain child processes of the RSS figure: argument parsing and the RSS sampler.
export const [, url, stream, durable, countText, concurrencyText] = process.argv.slice(2) as [string, string, string, string, string, string]
export const count = Number(countText)
export const concurrency = Number(concurrencyText)

let peak = 0
const sample = () => {
  peak = Math.max(peak, process.memoryUsage.rss())
}

/** Runs `drain`, sampling RSS every 50 ms, then prints `{ peakRssMb, rate }` and exits. */
export const measureDrain = async (drain: () => Promise<void>): Promise<never> => {
  const sampler = setInterval(sample, 50)
  const t = performance.now()
  await drain()
  const seconds = (performance.now() - t) / 1000
  sample()
  clearInterval(sampler)
  console.log(JSON.stringify({ peakRssMb: peak / 1024 / 1024, rate: count / seconds }))
  process.exit(0)
}
