// Sums the vitest JSON reports of every run into the one line CI reads: "N passed, N failed".
// Arguments: result directories, each `dir` (every project with a test target must have a report
// there) or `dir=project,project` (only those); default tmp/test-results.
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

const testedProjects = () =>
  execFileSync("git", ["ls-files", "*project.json"], { encoding: "utf8" }).split("\n").filter(Boolean)
    .map((file) => JSON.parse(readFileSync(file, "utf8")))
    .filter((project) => project.targets?.test !== undefined)
    .map((project) => project.name)

let passed = 0
let failed = 0
let skipped = 0
let suitesFailed = 0
// What failed, named, so that the last lines of a CI log say which test to look at.
const failures = []
const firstLine = (messages) => String(messages?.[0] ?? "").split("\n").find((l) => l.trim() !== "")?.trim().slice(0, 300) ?? ""
const dirs = process.argv.slice(2).filter((a, i, all) => a !== "--status" && all[i - 1] !== "--status")
for (const arg of dirs.length > 0 ? dirs : ["tmp/test-results"]) {
  const [dir, only] = arg.split("=")
  const reports = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : []
  for (const file of reports) {
    const report = JSON.parse(readFileSync(join(dir, file), "utf8"))
    passed += report.numPassedTests ?? 0
    failed += report.numFailedTests ?? 0
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
    // A file that failed without a failed test (it did not load, or a beforeAll hook failed and its
    // tests were skipped) still failed.
    for (const suite of report.testResults ?? []) {
      const file = relative(process.cwd(), suite.name ?? "")
      const failedTests = (suite.assertionResults ?? []).filter((a) => a.status === "failed")
      for (const test of failedTests) failures.push(`${dir}: ${file} > ${test.fullName ?? test.title}: ${firstLine(test.failureMessages)}`)
      if (suite.status === "failed" && failedTests.length === 0) {
        suitesFailed++
        failures.push(`${dir}: ${file}: ${firstLine([suite.message])}`)
      }
    }
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
// `--status N`: the exit status of the runs. A failed task that is not a test (lint, typecheck, a
// build) leaves no report to count: it shows as one failure rather than as "0 failed".
const statusAt = process.argv.indexOf("--status")
if (statusAt > 0 && Number(process.argv[statusAt + 1]) !== 0 && failed + suitesFailed === 0) {
  console.error("a task that is not a test failed (lint, typecheck or a build): counted as 1 failed")
  suitesFailed++
}
for (const failure of failures) console.log(`failed: ${failure}`)
console.log(`${passed} passed, ${failed + suitesFailed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
