export { renderAuthConf } from "./conf.js"
export { appPermissions, forbiddenGrants, type PermissionContext, type Permissions, provisioningPermissions, topologyStreams } from "./permissions.js"
export { inboxPrefixOf, type NatsUser, natsUsers, passwordEnv, passwordHashEnv, PROVISIONING_USER, type UserName } from "./users.js"
