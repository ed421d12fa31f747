import { natsUsers } from "@conveyor/auth"
import bcrypt from "bcryptjs"
import { randomInt } from "node:crypto"
import { stringify } from "yaml"
import { CONSOLE_LOGIN_KEYS, NAMESPACE, SECRET, SERVER_SECRET } from "./manifests.js"

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/** 32 characters from 62: about 190 bits. Letters and digits only, so no quoting issue anywhere. */
export const randomPassword = (length = 32): string => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join("")

export const randomPasswords = (): ReadonlyMap<string, string> => new Map(natsUsers().map((u) => [u.name, randomPassword()]))

/**
 * A password as nats-server keeps it: a bcrypt hash at cost 11, so a copy of the server's
 * environment or config reveals no password. Marked `$2a$`, the variant nats-server's own
 * mkpasswd writes and every version recognises; bcryptjs writes `$2b$`, which differs from `$2a$`
 * only for passwords over 255 bytes (these have 32).
 */
export const bcryptHash = (password: string): string => bcrypt.hashSync(password, 11).replace(/^\$2b\$/, "$2a$")

const secret = (name: string, data: Record<string, string>) =>
  stringify(
    { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: NAMESPACE, labels: { "app.kubernetes.io/part-of": "conveyor" } }, type: "Opaque", stringData: data },
    { lineWidth: 0 }
  )

/**
 * The two Secrets the manifests reference, one key per NATS user in each: the passwords, which
 * each app gets its own of, and their bcrypt hashes, which only nats-server gets. Never
 * committed; pipe them to kubectl.
 */
export const secretManifest = (passwords: ReadonlyMap<string, string>): string =>
  [
    // Plus the web console's login passwords (not NATS users: nats-server gets no hash of them).
    secret(SECRET, {
      ...Object.fromEntries(natsUsers().map((u) => [u.name, passwords.get(u.name)!])),
      [CONSOLE_LOGIN_KEYS.operator]: randomPassword(),
      [CONSOLE_LOGIN_KEYS.viewer]: randomPassword()
    }),
    secret(SERVER_SECRET, Object.fromEntries(natsUsers().map((u) => [u.name, bcryptHash(passwords.get(u.name)!)])))
  ].join("---\n")

/**
 * For docker compose: a .env file that replaces the local-only default passwords (for the apps)
 * and their hashes (for nats-server). The hashes are single-quoted: compose takes such a value
 * literally instead of reading its `$` as variables.
 */
export const composeEnv = (passwords: ReadonlyMap<string, string>): string =>
  natsUsers()
    .flatMap((u) => [`${u.passwordEnv}=${passwords.get(u.name)!}`, `${u.passwordHashEnv}='${bcryptHash(passwords.get(u.name)!)}'`])
    .concat([`CONSOLE_OPERATOR_PASSWORD=${randomPassword()}`, `CONSOLE_VIEWER_PASSWORD=${randomPassword()}`])
    .join("\n") + "\n"
