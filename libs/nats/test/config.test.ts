import { ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { describeConfigError, natsConfig } from "../src/index.js"
import { parseDuration, parseServers } from "../src/config.js"

const load = (env: Record<string, string>) =>
  Effect.runSync(Effect.either(natsConfig).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))))

describe("NATS configuration", () => {
  it("takes credentials out of NATS_URL: user and password, or a token; the servers keep none", () => {
    const config = Either.getOrThrow(load({ NATS_URL: "nats://app:s3cr%3At@h1:4222, tls://app:s3cr%3At@h2:4443" }))
    expect(config.servers).toEqual(["nats://h1:4222", "tls://h2:4443"])
    expect(config.user).toEqual(Option.some("app"))
    expect(Option.map(config.password, Redacted.value)).toEqual(Option.some("s3cr:t"))
    const token = Either.getOrThrow(load({ NATS_URL: "nats://t0k3n@h:4222" }))
    expect(Option.map(token.token, Redacted.value)).toEqual(Option.some("t0k3n"))
    expect(token.servers).toEqual(["nats://h:4222"])
    expect(Either.getOrThrow(load({ NATS_URL: "h:4222" })).servers).toEqual(["nats://h:4222"])
  })

  it("refuses ambiguous or malformed settings with a line that names the variable and never the password", () => {
    const message = (env: Record<string, string>) => {
      const result = load(env)
      return Either.isLeft(result) ? describeConfigError(result.left) : "accepted"
    }
    expect(message({ NATS_URL: "nats://a:pw1@h:1", NATS_PASSWORD: "pw2" })).toMatch(/^invalid configuration: NATS_URL: carries credentials and NATS_USER/)
    expect(message({ NATS_URL: "nats://a:pw1@h:1,nats://b:pw2@h:2" })).toMatch(/NATS_URL: its servers carry different credentials/)
    expect(message({ NATS_URL: "http://a:pw1@h:1" })).toBe("invalid configuration: NATS_URL: server 1 must be nats://, tls://, ws:// or wss:// with a host")
    expect(message({ NATS_CONNECT_TIMEOUT: "soon" })).toMatch(/^invalid configuration: NATS_CONNECT_TIMEOUT: must be milliseconds/)
    for (const env of [{ NATS_URL: "nats://a:pw1@h:1", NATS_PASSWORD: "pw2" }, { NATS_URL: "nats://a:pw1@h:1,nats://b:pw2@h:2" }]) {
      expect(message(env)).not.toMatch(/pw1|pw2/)
    }
  })

  it("durations: milliseconds alone, or with a unit", () => {
    expect(parseDuration("5000")).toEqual(Option.some(Duration.millis(5000)))
    expect(parseDuration("5s")).toEqual(Option.some(Duration.millis(5000)))
    expect(parseDuration("5 seconds")).toEqual(Option.some(Duration.millis(5000)))
    expect(parseDuration("2m")).toEqual(Option.some(Duration.millis(120_000)))
    expect(parseDuration("250ms")).toEqual(Option.some(Duration.millis(250)))
    expect(parseDuration("five")).toEqual(Option.none())
    expect(Either.getOrThrow(load({ NATS_CONNECT_TIMEOUT: "5000" })).connectTimeout).toEqual(Duration.millis(5000))
    expect(Either.isLeft(parseServers(""))).toBe(true)
  })
})
