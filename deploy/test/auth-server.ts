// A real nats-server started with the committed auth config, and one connection per generated
// user: what nats-auth.test.ts (each user does its job; the attacks) and nats-denials.test.ts
// (the denial matrix) run against.
import { inboxPrefixOf, natsUsers, type UserName } from "@conveyor/auth"
import { commandRoutes, deadLetterSubject, eventSubject, type OrderEventType, orderTopology } from "@conveyor/domain"
import { makeNatsClient, makeNatsConfig, type NatsClient } from "@conveyor/nats"
import { LocalNatsProcess } from "@conveyor/testing"
import { Duration, Effect, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { bcryptHash } from "../scripts/secrets.js"
import { deployDir } from "./render.js"

export const authConf = join(deployDir, "base", "nats", "auth.conf")
export const users = natsUsers()

/** Fresh random passwords, one per user. */
export const randomPasswords = (): ReadonlyMap<string, string> => new Map(users.map((u) => [u.name, randomBytes(12).toString("hex")]))

/**
 * Hands nats-server the bcrypt hashes of the users' passwords through the variables `auth.conf`
 * references, quoted as the deployments do (nats-server parses a referenced variable as a config
 * value): the server under test holds no password, as deployed.
 */
export const setServerPasswords = (passwords: ReadonlyMap<string, string>): void => {
  for (const u of users) process.env[u.passwordHashEnv] = JSON.stringify(bcryptHash(passwords.get(u.name)!))
}

/** The generated file sets no listen/port/store: LocalNatsProcess's own flags apply. */
export const startAuthServer = (passwords: ReadonlyMap<string, string>): Promise<LocalNatsProcess> => {
  setServerPasswords(passwords)
  return LocalNatsProcess.start({ args: ["-c", authConf] })
}

export interface UserConnections {
  readonly client: (user: UserName) => NatsClient
  /** A further connection as `user` (closed with the others). */
  readonly connect: (user: UserName, name?: string) => Promise<NatsClient>
  readonly closeAll: () => Promise<void>
}

export const connectUsers = async (server: LocalNatsProcess, passwords: ReadonlyMap<string, string>): Promise<UserConnections> => {
  const drains: Array<Effect.Effect<void>> = []
  const connect = async (user: UserName, name = `auth-test-${user}`): Promise<NatsClient> => {
    const made = await Effect.runPromise(
      makeNatsClient(
        makeNatsConfig({
          servers: [server.url],
          name,
          user: Option.some(user),
          password: Option.some(Redacted.make(passwords.get(user)!)),
          inboxPrefix: Option.some(inboxPrefixOf(user)),
          connectTimeout: Duration.seconds(10)
        })
      )
    )
    drains.push(made.drain)
    return made.client
  }
  const clients = new Map<UserName, NatsClient>()
  for (const u of users) clients.set(u.name, await connect(u.name))
  return {
    client: (user) => clients.get(user)!,
    connect,
    closeAll: async () => {
      for (const drain of drains.splice(0)) await Effect.runPromise(drain)
    }
  }
}

export const denied = /permissions violation/i

const eventTypes: ReadonlyArray<OrderEventType> = [
  "OrderPlaced", "StockReserved", "StockRejected", "StockReleased", "PaymentCaptured", "PaymentDeclined",
  "PaymentRefunded", "ShipmentScheduled", "OrderCompleted", "OrderCancelled", "StepTimedOut"
]
const commandSubjects = Object.values(commandRoutes).map((r) => `orders.commands.${r.worker}.${r.action}`)
/** Concrete subjects of every kind the system publishes, each durable's dead letters included. */
export const sampleSubjects: ReadonlyArray<string> = [
  ...eventTypes.map(eventSubject),
  ...commandSubjects,
  ...orderTopology.consumers.map((c) => deadLetterSubject(c.stream, c.durable))
]
