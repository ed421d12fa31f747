import type { NatsConnection as RawConnection } from "@nats-io/transport-node"

/** The part of nats-core's (3.x) protocol handler this touches: private, so checked before use. */
interface ProtocolInternals {
  outbound: { fill: (data: Uint8Array, ...more: Array<Uint8Array>) => void; size: () => number }
  pendingLimit: number
  flushPending: () => void
  sendCommand: (cmd: string | Uint8Array, ...payloads: Array<Uint8Array>) => void
}

/** What one turn may buffer before it is written anyway. */
const TURN_BUFFER_BYTES = 256 * 1024

const internalsOf = (nc: RawConnection): ProtocolInternals | undefined => {
  const p = (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol
  return p !== undefined && typeof p.sendCommand === "function" && typeof p.flushPending === "function" &&
      typeof p.outbound?.fill === "function" && typeof p.outbound.size === "function" && typeof p.pendingLimit === "number"
    ? (p as ProtocolInternals)
    : undefined
}

/**
 * Makes the client write what it has buffered once per turn of the event loop (`setImmediate`)
 * instead of once per microtask checkpoint. nats.js flushes its outbound buffer in a microtask
 * after the first command that fills it; the runtime's fibers resume in their own microtasks, so
 * under load the buffer went out a few messages at a time (17.7 socket writes per order for 56
 * messages at 64 orders in flight), each a `writeBuffer` system call for this process and a read
 * for the server. Nothing waits longer than the rest of the current turn; a full buffer is still
 * written at once, and `flush()` (PING, as `drain` uses it) still writes everything immediately.
 * Returns false, changing nothing, when the client's internals are not the expected ones.
 */
export const coalesceWrites = (nc: RawConnection): boolean => {
  const p = internalsOf(nc)
  if (p === undefined) return false
  // The buffer is written at once when it reaches `pendingLimit` (32 KiB by default): at 64 orders
  // in flight about 2 of 5 writes were those, mid-turn. A turn's messages go in one write up to this.
  p.pendingLimit = Math.max(p.pendingLimit, TURN_BUFFER_BYTES)
  let scheduled = false
  const flush = () => {
    scheduled = false
    p.flushPending()
  }
  p.sendCommand = (cmd, ...payloads) => {
    // Buffer.from, as @conveyor/messaging's utf8Bytes (3-5x TextEncoder's speed), without loading
    // that package here: a connection alone (the CLI) must not load OpenTelemetry.
    p.outbound.fill(typeof cmd === "string" ? Buffer.from(cmd, "utf8") : cmd, ...payloads)
    if (p.outbound.size() >= p.pendingLimit) p.flushPending()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return true
}
