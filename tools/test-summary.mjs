// Sums the vitest JSON reports of every run into the one line CI reads: "N passed, N failed".
// Arguments: result directories, each `dir` (every project with a test target must have a report
// there) or `dir=project,project` (only those); default tmp/test-results.
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const testedProjects = () =>
  execFileSync("git", ["ls-files", "*project.json"], { encoding: "utf8" }).split("\n").filter(Boolean)
    .map((file) => JSON.parse(readFileSync(file, "utf8")))
    .filter((project) => project.targets?.test !== undefined)
    .map((project) => project.name)

let passed = 0
let failed = 0
let skipped = 0
let suitesFailed = 0
for (const arg of process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["tmp/test-results"]) {
  const [dir, only] = arg.split("=")
  const reports = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : []
  for (const file of reports) {
    const report = JSON.parse(readFileSync(join(dir, file), "utf8"))
    passed += report.numPassedTests ?? 0
    failed += report.numFailedTests ?? 0
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
    // A file that failed to load has no tests but still failed.
    suitesFailed += (report.testResults ?? []).filter((r) => r.status === "failed" && (r.assertionResults ?? []).length === 0).length
  }
  // A project whose report is missing ran no test we can count (a report written elsewhere went
  // unnoticed once): each counts as a failure.
  for (const project of only === undefined ? testedProjects() : only.split(",")) {
    if (!reports.includes(`${project}.json`)) {
      console.error(`no test report for ${project} in ${dir}`)
      suitesFailed++
    }
  }
}
console.log(`${passed} passed, ${failed + suitesFailed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
