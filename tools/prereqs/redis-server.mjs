// redis-server for the bench's BullMQ chain (and the bench's quick test): apt-get as root on
// Debian/Ubuntu, else a clear message. REDIS_SERVER_BIN names another binary.
import { aptInstall, has } from "./apt-install.mjs"

export const ensureRedisServer = () => {
  const binary = process.env.REDIS_SERVER_BIN ?? "redis-server"
  if (!has(binary)) aptInstall("redis-server", "the bench compares with BullMQ on Redis", "set REDIS_SERVER_BIN")
  return {}
}
