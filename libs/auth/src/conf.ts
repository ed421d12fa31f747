import type { NatsUser } from "./users.js"

// NATS config strings: double-quoted, so `$JS...` stays a literal and is never read as a variable.
const quote = (s: string): string => JSON.stringify(s)

const list = (subjects: ReadonlyArray<string>, indent: string): string =>
  subjects.length === 0 ? "[]" : `[\n${subjects.map((s) => `${indent}  ${quote(s)}`).join("\n")}\n${indent}]`

/**
 * The `authorization` block of nats-server's config: one user per identity with allow lists;
 * everything else is denied. Passwords are `$VARIABLE` references that nats-server resolves from
 * its environment, where they are bcrypt hashes (nats-server takes a `$2a$` value as one), so
 * the file holds no secret and can live in git and a ConfigMap, and the server holds none either.
 */
export const renderAuthConf = (users: ReadonlyArray<NatsUser>, header: string): string => {
  const body = users
    .map((u) =>
      [
        "    {",
        `      user: ${quote(u.name)}`,
        `      password: $${u.passwordHashEnv}`,
        "      permissions: {",
        `        publish: { allow: ${list(u.permissions.publish, "        ")} }`,
        `        subscribe: { allow: ${list(u.permissions.subscribe, "        ")} }`,
        "      }",
        "    }"
      ].join("\n")
    )
    .join("\n")
  return `${header
    .split("\n")
    .map((l) => `# ${l}`.trimEnd())
    .join("\n")}\nauthorization {\n  users: [\n${body}\n  ]\n}\n`
}
