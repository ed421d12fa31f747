// Installing a Debian package for a prerequisite: apt-get as root on Debian/Ubuntu, else the
// one-line message saying how.
import { spawnSync } from "node:child_process"

export const has = (cmd, args = ["--version"]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"] })
  if (r.status !== 0) throw new Error(`[setup] ${cmd} ${args.join(" ")} failed (exit ${r.status})`)
}

/** `apt-get install -y <pkg>`; `why` says what needs it, `instead` what else the user can do. */
export const aptInstall = (pkg, why, instead) => {
  if (process.getuid?.() !== 0 || !has("apt-get")) throw new Error(`${pkg} is not installed (${why}): \`sudo apt-get install -y ${pkg}\`, or ${instead}.`)
  console.error(`[setup] installing ${pkg} with apt-get (${why})...`)
  run("apt-get", ["update", "-qq"])
  run("apt-get", ["install", "-y", "-qq", pkg])
}
