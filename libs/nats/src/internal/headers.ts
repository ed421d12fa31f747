import { headers as makeHeaders, type MsgHdrs } from "@nats-io/transport-node"

export const toMsgHdrs = (record: Readonly<Record<string, string>> | undefined): MsgHdrs | undefined => {
  if (record === undefined) return undefined
  const keys = Object.keys(record)
  if (keys.length === 0) return undefined
  const h = makeHeaders()
  for (const k of keys) h.set(k, record[k]!)
  return h
}

export const fromMsgHdrs = (hdrs: MsgHdrs | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (hdrs === undefined) return out
  for (const [k, values] of hdrs) {
    const v = values[0]
    if (v !== undefined) out[k] = v
  }
  return out
}
