// Every message of an order is published once: one PRODUCER span per message id, none a duplicate
// the stream dropped (issue 20 item 7), also with two orchestrator replicas sharing the durable (the
// orchestrator is scaled on lag), where an instance's next event often reaches the replica that did
// not write it. Spans leave through OTLP to a receiver in this test.
import { otlpReceiver, type OtlpSpan } from "@conveyor/testing"
import { useNatsServer } from "@conveyor/testing/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { GatewayRoutesLive, InventoryWorkerLive, NotifierLive, OrchestratorLive, PaymentsWorkerLive, ShippingWorkerLive } from "../src/index.js"
import { order, postOrder, startStack, terminal } from "./support.js"

const PRODUCER = 4 // OTLP SpanKind
const server = useNatsServer()
const scope = Effect.runSync(Scope.make())
let otlp: Effect.Effect.Success<typeof otlpReceiver>
beforeAll(async () => {
  otlp = await Effect.runPromise(Scope.extend(otlpReceiver, scope))
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes?.find((a) => a.key === key)?.value
  return value?.stringValue ?? value?.boolValue
}

describe("publish spans of the order workflow", () => {
  it("every message id has exactly one PRODUCER span, none marked duplicate (two orchestrator replicas)", async () => {
    const otel = { OTEL_SDK_DISABLED: "false", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: "200" }
    const stack = await startStack(server.url, {
      ...otel, INVENTORY_DEFAULT_STOCK: "100", PAYMENTS_DECLINE_ABOVE_CENTS: "100000"
    }, Layer.mergeAll(OrchestratorLive, InventoryWorkerLive, PaymentsWorkerLive, ShippingWorkerLive, NotifierLive), GatewayRoutesLive, "spans")
    // Two apps in one process: the second one's OTel global registration is refused (logged), its spans still export.
    const replica = await startStack(server.url, otel, OrchestratorLive, undefined, "spans-replica")
    try {
      // Completed orders and one cancelled (a declined payment releases the stock): every kind of step.
      const ids = ["ps-1", "ps-2", "ps-3", "ps-4"]
      for (const id of ids) expect((await postOrder(stack.base, order(id, "c-1", [{ sku: "ps-sku", quantity: 1, unitPriceCents: 300 }]))).status).toBe(202)
      expect((await postOrder(stack.base, order("ps-5", "decline-me", [{ sku: "ps-sku", quantity: 1, unitPriceCents: 300 }]))).status).toBe(202)
      for (const id of ids) expect((await terminal(stack.base, id)).status).toBe("completed")
      expect((await terminal(stack.base, "ps-5")).status).toBe("cancelled")
    } finally {
      // Releasing an app flushes its last spans to the receiver.
      await stack.close()
      await replica.close()
    }
    const publishes = otlp.received
      .flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)))
      .filter((s) => s.kind === PRODUCER && s.name.startsWith("publish "))
    const byId = new Map<string, Array<OtlpSpan>>()
    for (const span of publishes) {
      const id = String(attribute(span, "messaging.message.id"))
      byId.set(id, [...(byId.get(id) ?? []), span])
    }
    // Both orchestrators published (took part), so a re-publish by either would have been seen.
    const publishers = new Set(otlp.received.flatMap((r) => r.resourceSpans
      .filter((rs) => rs.scopeSpans.some((s) => s.spans.some((span) => span.kind === PRODUCER)))
      .map((rs) => rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue)))
    expect(publishers).toContain("spans-replica")
    // Five orders, each several commands and events: a broken capture would pass the checks below vacuously.
    expect(byId.size).toBeGreaterThanOrEqual(5 * 6)
    const repeated = [...byId].filter(([, spans]) => spans.length > 1).map(([id, spans]) => `${id} ×${spans.length}`)
    expect(repeated).toEqual([])
    expect(publishes.filter((s) => attribute(s, "messaging.nats.duplicate") === true).map((s) => s.name)).toEqual([])
  }, 60_000)
})
