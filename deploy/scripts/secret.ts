// Prints fresh random NATS passwords, as the Kubernetes Secret the manifests reference or, with
// --env, as a .env file for docker compose. Nothing is written to the repository:
//   npx tsx --conditions=@conveyor/source deploy/scripts/secret.ts | kubectl apply -f -
//   npx tsx --conditions=@conveyor/source deploy/scripts/secret.ts --env > .env
import { composeEnv, randomPasswords, secretManifest } from "./secrets.js"

const passwords = randomPasswords()
process.stdout.write(process.argv.includes("--env") ? composeEnv(passwords) : secretManifest(passwords))
