/**
 * The oldest nats-server Conveyor runs on, and the features that set it: a durable with several
 * filter subjects (its own dead-letter replay subject beside the stream's, `dead-letters.ts`),
 * `sync_interval` in the production config. README "Supported nats-server versions".
 */
export const MINIMUM_SERVER_VERSION = "2.10.0"

const parse = (version: string): ReadonlyArray<number> | undefined => {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version)
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])]
}

/** `version` is at least `floor` (both "x.y.z", a "v" prefix and a "-suffix" allowed); unparsable is not. */
export const isAtLeast = (version: string, floor: string): boolean => {
  const [a, b] = [parse(version), parse(floor)]
  if (a === undefined || b === undefined) return false
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!
  return true
}
