// Which nats-server the demo, the tests and the bench run on. Conveyor is tested on TESTED and
// supports MINIMUM and newer (README "Supported nats-server versions"). A server on PATH older than
// TESTED is replaced by TESTED from Debian's suite that carries it, cached under
// ~/.cache/conveyor/nats-server-<version>/ (CONVEYOR_CACHE_DIR overrides the parent).
// `node tools/prereqs/nats-server.mjs [tested|minimum]` prints the path of that cached binary.
import { spawnSync } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { CannotFetch, fetchDebianPackage } from "./debian-package.mjs"

export const NATS_SERVER = {
  tested: { version: "2.15.1", deb: "2.15.1-1", suite: "sid" },
  minimum: { version: "2.10.27", deb: "2.10.27-1+b2", suite: "trixie" }
}

export const cacheDir = () =>
  process.env.CONVEYOR_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "conveyor")

/** "2.15.1" from `nats-server --version` ("nats-server: v2.15.1"), or undefined when it does not run. */
export const versionOf = (binary) => {
  const r = spawnSync(binary, ["--version"], { encoding: "utf8" })
  return r.status === 0 ? r.stdout.match(/v?(\d+\.\d+\.\d+)/)?.[1] : undefined
}

export const atLeast = (version, floor) => {
  const [a, b] = [version, floor].map((v) => v.split(".").map(Number))
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i]
  return true
}

/** The cached binary of `line` ("tested" | "minimum"), fetched first when missing. Throws CannotFetch. */
export const cachedNatsServer = (line = "tested") => {
  const { version, deb, suite } = NATS_SERVER[line]
  const dir = join(cacheDir(), `nats-server-${version}`)
  const binary = join(dir, "nats-server")
  if (versionOf(binary) === version) return binary
  console.error(`[setup] fetching nats-server ${version} (Debian ${suite} package ${deb}) into ${dir}...`)
  mkdirSync(cacheDir(), { recursive: true })
  const unpacked = mkdtempSync(join(cacheDir(), ".unpack-"))
  try {
    const pkg = fetchDebianPackage({ name: "nats-server", version: deb, suite, into: join(unpacked, "pkg") })
    const extracted = join(pkg, "usr", "sbin", "nats-server")
    if (!existsSync(extracted)) throw new CannotFetch(`the ${deb} package has no usr/sbin/nats-server`)
    copyFileSync(extracted, join(unpacked, "nats-server"))
    rmSync(pkg, { recursive: true, force: true })
    rmSync(dir, { recursive: true, force: true })
    chmodSync(unpacked, 0o755)
    renameSync(unpacked, dir) // the whole folder at once: a concurrent run never sees half a binary
  } finally {
    rmSync(unpacked, { recursive: true, force: true })
  }
  if (versionOf(binary) !== version) throw new CannotFetch(`${binary} does not report version ${version}`)
  return binary
}

const cannotInstall = (reason) =>
  `nats-server ${NATS_SERVER.tested.version} could not be installed: ${reason}\n` +
  `Conveyor needs nats-server ${NATS_SERVER.minimum.version.replace(/\.\d+$/, "")} or newer (tested on ${NATS_SERVER.tested.version}). Install one and set\n` +
  "NATS_SERVER_BIN to it (a release binary from https://github.com/nats-io/nats-server/releases,\n" +
  "`brew install nats-server`, Debian trixie or newer's `nats-server` package), or point NATS_URL at a running server started with -js."

/**
 * The binary to run, as `{ NATS_SERVER_BIN }` for the environment of what runs next, `{}` when
 * NATS_URL names a server. An explicit NATS_SERVER_BIN is kept when it is at least MINIMUM; a
 * `nats-server` on PATH is kept when it is at least TESTED; otherwise TESTED is cached and used.
 */
export const ensureNatsServer = () => {
  if (process.env.NATS_URL) return {}
  const minimum = NATS_SERVER.minimum.version
  const explicit = process.env.NATS_SERVER_BIN
  if (explicit) {
    const version = versionOf(explicit)
    if (version === undefined) throw new Error(`NATS_SERVER_BIN=${explicit} does not run (\`${explicit} --version\` failed)`)
    if (!atLeast(version, minimum)) throw new Error(`NATS_SERVER_BIN=${explicit} is nats-server ${version}; Conveyor needs ${minimum} or newer`)
    console.error(`[setup] nats-server ${version} (NATS_SERVER_BIN=${explicit})`)
    return { NATS_SERVER_BIN: explicit }
  }
  const onPath = versionOf("nats-server")
  if (onPath !== undefined && atLeast(onPath, NATS_SERVER.tested.version)) {
    console.error(`[setup] nats-server ${onPath} (on PATH)`)
    return {}
  }
  try {
    const binary = cachedNatsServer("tested")
    const why = onPath === undefined ? "none on PATH" : `PATH has ${onPath}, older than the tested line`
    console.error(`[setup] nats-server ${NATS_SERVER.tested.version} at ${binary} (${why})`)
    return { NATS_SERVER_BIN: binary }
  } catch (error) {
    if (!(error instanceof CannotFetch)) throw error
    if (onPath !== undefined && atLeast(onPath, minimum)) {
      console.error(`[setup] ${cannotInstall(error.message)}\n[setup] going on with nats-server ${onPath} from PATH`)
      return {}
    }
    if (existsSync("/var/run/docker.sock") || process.env.DOCKER_HOST) {
      console.error(`[setup] ${cannotInstall(error.message)}\n[setup] going on: the tests will run the official image with testcontainers`)
      return {}
    }
    throw new Error(cannotInstall(error.message))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const line = process.argv[2] ?? "tested"
  if (!(line in NATS_SERVER)) {
    console.error(`usage: nats-server.mjs [${Object.keys(NATS_SERVER).join("|")}]`)
    process.exit(2)
  }
  try {
    console.log(cachedNatsServer(line))
  } catch (error) {
    console.error(error instanceof CannotFetch ? cannotInstall(error.message) : error)
    process.exit(1)
  }
}
