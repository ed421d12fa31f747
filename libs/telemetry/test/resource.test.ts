import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { InMemorySpanExporter, layerTracingInMemory } from "../src/index.js"

describe("the traces' resource", () => {
  it.scopedLive("names the SDK with its version and the process with service.instance.id", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      yield* Layer.build(layerTracingInMemory(exporter, { serviceName: "resource-test" }))
        .pipe(Effect.flatMap((context) => Effect.provide(Effect.withSpan(Effect.void, "one"), context)))
      const [span] = exporter.getFinishedSpans()
      const attributes = span!.resource.attributes
      expect(attributes["service.name"]).toBe("resource-test")
      expect(attributes["telemetry.sdk.language"]).toBe("nodejs")
      expect(attributes["telemetry.sdk.version"]).toMatch(/^\d+\.\d+\.\d+/)
      expect(attributes["service.instance.id"]).toMatch(/^[0-9a-f-]{36}$/)
    }))
})
