// console: the operator web console (queues and lag, dead letters with grouped replay, workflows,
// topology drift). Environment: `--help`, or README.md next to this folder.
import { runConsole } from "@conveyor/console"

runConsole()
