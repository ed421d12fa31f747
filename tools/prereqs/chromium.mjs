// Debian's chromium for the console's browser tests (playwright-core drives it; Playwright's own
// browser download is never used): apt-get as root on Debian/Ubuntu, else a clear message.
// CHROMIUM_BIN names another binary.
import { existsSync } from "node:fs"
import { aptInstall } from "./apt-install.mjs"

export const ensureChromium = () => {
  const binary = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium"
  if (!existsSync(binary)) {
    if (process.env.CHROMIUM_BIN !== undefined) throw new Error(`CHROMIUM_BIN=${binary}: no such file`)
    aptInstall("chromium", "the console's browser tests drive it", "set CHROMIUM_BIN")
  }
  return { CHROMIUM_BIN: binary }
}
