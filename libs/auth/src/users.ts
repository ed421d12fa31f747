import { type AppAccess, type AppName, appAccess, appNames, orderTopology, StreamNames } from "@conveyor/domain"
import { appPermissions, type PermissionContext, type Permissions, provisioningPermissions } from "./permissions.js"

/** The identity the provisioning Job (and `conveyor topology apply` in compose) connects with. */
export const PROVISIONING_USER = "provisioning"

export type UserName = AppName | typeof PROVISIONING_USER

/**
 * One NATS user. No password is in the generated files, and the server never sees one: its config
 * references the environment variable `passwordHashEnv`, which holds the password's bcrypt hash.
 * The app reads the password itself as `NATS_PASSWORD`, from the variable `passwordEnv` (compose)
 * or the Secret's key named after the user (Kubernetes).
 */
export interface NatsUser {
  readonly name: UserName
  readonly passwordEnv: string
  readonly passwordHashEnv: string
  /** What the user's connection must set as `NATS_INBOX_PREFIX`: its replies arrive below it. */
  readonly inboxPrefix: string
  readonly permissions: Permissions
}

/** `_INBOX_inventory-worker` for `inventory-worker`. */
export const inboxPrefixOf = (name: string): string => `_INBOX_${name}`

const envName = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, "_")

/** `NATS_PASSWORD_INVENTORY_WORKER` for `inventory-worker`. */
export const passwordEnv = (name: string): string => `NATS_PASSWORD_${envName(name)}`

/** `NATS_BCRYPT_INVENTORY_WORKER` for `inventory-worker`: what nats-server reads. */
export const passwordHashEnv = (name: string): string => `NATS_BCRYPT_${envName(name)}`

export const orderPermissionContext: PermissionContext = { topology: orderTopology, deadLetterStream: StreamNames.deadLetters }

/** Every app's user plus the provisioning user, in a stable order (the generated files are diffed). */
export const natsUsers = (
  access: { readonly [A in AppName]: AppAccess } = appAccess,
  context: PermissionContext = orderPermissionContext
): ReadonlyArray<NatsUser> => [
  ...appNames.map((name) => ({
    name,
    passwordEnv: passwordEnv(name),
    passwordHashEnv: passwordHashEnv(name),
    inboxPrefix: inboxPrefixOf(name),
    permissions: appPermissions(access[name], context, inboxPrefixOf(name))
  })),
  {
    name: PROVISIONING_USER,
    passwordEnv: passwordEnv(PROVISIONING_USER),
    passwordHashEnv: passwordHashEnv(PROVISIONING_USER),
    inboxPrefix: inboxPrefixOf(PROVISIONING_USER),
    permissions: provisioningPermissions(context, inboxPrefixOf(PROVISIONING_USER))
  }
]
