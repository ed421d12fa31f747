import { NatsConnectionFromEnv, runMain } from "@conveyor/nats"
import { TelemetryLive } from "@conveyor/telemetry"
import { Effect, Layer } from "effect"
import { Mailer, receipts } from "./receipts.js"

const logMailer = Layer.succeed(Mailer, (order) => Effect.logInfo(`receipt sent for ${order.orderId}`))
runMain(receipts.pipe(Effect.provide(Layer.mergeAll(NatsConnectionFromEnv, TelemetryLive, logMailer))), { serviceName: "receipts" })
