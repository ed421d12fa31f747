import { defaultTelemetryConfig } from "@conveyor/telemetry"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The OTLP/HTTP receiver child process; `stop` kills it by its pid. */
export interface OtlpSink {
  readonly url: string
  readonly spans: () => Promise<number>
  readonly stop: () => Promise<void>
}

export const startOtlpSink = async (): Promise<OtlpSink> => {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../src/otlp-sink.mjs", import.meta.url))], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`OTLP sink exited with ${code}`)))
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())))
  })
  const base = `http://127.0.0.1:${port}`
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return {
    url: `${base}/v1/traces`,
    spans: async () => ((await (await fetch(`${base}/count`)).json()) as { spans: number }).spans,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM")
      await exited
    }
  }
}

/** What an app exports with by default (OTEL_BSP_*: 5 s delay, queue 2048, batches of 512), sending OTLP/HTTP JSON to `url`. */
export const batchExportTo = (url: string): BatchSpanProcessor => new BatchSpanProcessor(new OTLPTraceExporter({ url }), defaultTelemetryConfig.batch)
