import { natsUsers } from "@conveyor/auth"
import { randomInt } from "node:crypto"
import { stringify } from "yaml"
import { NAMESPACE, SECRET } from "./manifests.js"

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/** 32 characters from 62: about 190 bits. Letters and digits only, so no quoting issue anywhere. */
export const randomPassword = (length = 32): string => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join("")

export const randomPasswords = (): ReadonlyMap<string, string> => new Map(natsUsers().map((u) => [u.name, randomPassword()]))

/** The Secret the manifests reference: one key per NATS user. Never committed; pipe it to kubectl. */
export const secretManifest = (passwords: ReadonlyMap<string, string>): string =>
  stringify(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: SECRET, namespace: NAMESPACE, labels: { "app.kubernetes.io/part-of": "conveyor" } },
      type: "Opaque",
      stringData: Object.fromEntries(natsUsers().map((u) => [u.name, passwords.get(u.name)!]))
    },
    { lineWidth: 0 }
  )

/** For docker compose: a .env file that replaces the local-only default passwords. */
export const composeEnv = (passwords: ReadonlyMap<string, string>): string =>
  natsUsers()
    .map((u) => `${u.passwordEnv}=${passwords.get(u.name)!}`)
    .join("\n") + "\n"
