// Sums the vitest JSON reports of every project into the one line CI reads: "N passed, N failed".
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const dir = process.argv[2] ?? "tmp/test-results"
let passed = 0
let failed = 0
let skipped = 0
let suitesFailed = 0
if (existsSync(dir)) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const report = JSON.parse(readFileSync(join(dir, file), "utf8"))
    passed += report.numPassedTests ?? 0
    failed += report.numFailedTests ?? 0
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
    // A file that failed to load has no tests but still failed.
    suitesFailed += (report.testResults ?? []).filter((r) => r.status === "failed" && (r.assertionResults ?? []).length === 0).length
  }
}
// A project whose report is missing ran no test we can count (a report written elsewhere went
// unnoticed once): each counts as a failure.
const reports = existsSync(dir) ? new Set(readdirSync(dir)) : new Set()
for (const file of execFileSync("git", ["ls-files", "*project.json"], { encoding: "utf8" }).split("\n").filter(Boolean)) {
  const project = JSON.parse(readFileSync(file, "utf8"))
  if (project.targets?.test !== undefined && !reports.has(`${project.name}.json`)) {
    console.error(`no test report for ${project.name} in ${dir}`)
    suitesFailed++
  }
}
console.log(`${passed} passed, ${failed + suitesFailed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
