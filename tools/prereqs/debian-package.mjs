// Fetches one Debian package by name and exact version from another suite of the machine's own
// Debian mirror, without touching the machine's apt state: a temporary sources list and lists
// directory reuse the configured source URI (read from /etc/apt, never written into the repo)
// with the suite replaced, `apt-get download` fetches the .deb and `dpkg-deb -x` unpacks it.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export class CannotFetch extends Error {}

/** The machine's main Debian archive URI (not the security one), from deb822 or one-line sources. */
export const debianArchiveUri = (etc = "/etc/apt") => {
  const uris = []
  const partsDir = join(etc, "sources.list.d")
  const parts = existsSync(partsDir) ? readdirSync(partsDir).map((f) => join(partsDir, f)) : []
  for (const file of parts.filter((f) => f.endsWith(".sources"))) {
    for (const stanza of readFileSync(file, "utf8").split(/\n\s*\n/)) {
      const field = (name) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, "mi"))?.[1].trim().split(/\s+/) ?? []
      if (field("Types").includes("deb") && field("Components").includes("main")) uris.push(...field("URIs"))
    }
  }
  for (const file of [join(etc, "sources.list"), ...parts.filter((f) => f.endsWith(".list"))].filter(existsSync)) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+.*\bmain\b/)
      if (m) uris.push(m[1])
    }
  }
  return uris.find((u) => !/security/.test(u))
}

const run = (cmd, args, cwd, what = `${cmd} ${args[args.length - 1]}`) => {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" })
  if (r.error) throw new CannotFetch(`${cmd}: ${r.error.message}`)
  if (r.status !== 0) throw new CannotFetch(`${what} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`)
}

/**
 * Downloads `name=version` from `suite` and unpacks it into `into` (created). Throws CannotFetch
 * with the reason when apt-get or dpkg-deb is missing, no Debian source is configured, or the
 * mirror does not have that version.
 */
export const fetchDebianPackage = ({ name, version, suite, into }) => {
  const uri = debianArchiveUri()
  if (uri === undefined) throw new CannotFetch("no Debian archive is configured in /etc/apt (sources.list or sources.list.d/*.sources)")
  const work = mkdtempSync(join(tmpdir(), "conveyor-apt-"))
  try {
    for (const dir of ["lists/partial", "cache/archives/partial"]) mkdirSync(join(work, dir), { recursive: true })
    writeFileSync(join(work, "sources.list"), `deb ${uri} ${suite} main\n`)
    const options = [
      "-o", `Dir::Etc::SourceList=${join(work, "sources.list")}`,
      "-o", "Dir::Etc::SourceParts=/dev/null",
      "-o", `Dir::State::Lists=${join(work, "lists")}`,
      "-o", `Dir::Cache=${join(work, "cache")}`, // keeps the machine's package cache out of it
      "-o", "Debug::NoLocking=1",
      "-o", "APT::Sandbox::User=root", // the temporary directory is not readable by _apt
      "-qq"
    ]
    run("apt-get", [...options, "update"], work)
    run("apt-get", [...options, "download", `${name}=${version}`], work, `apt-get download ${name}=${version}`)
    const deb = readdirSync(work).find((f) => f.endsWith(".deb"))
    if (deb === undefined) throw new CannotFetch(`apt-get download ${name}=${version} produced no .deb`)
    mkdirSync(into, { recursive: true })
    run("dpkg-deb", ["-x", join(work, deb), into], work)
    return into
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
