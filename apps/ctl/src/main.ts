// The modules, not the package index: that would load the HTTP server, undici and ws (start-up time).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { runCli } from "./cli.js"

NodeRuntime.runMain(runCli(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  // Interrupted (Ctrl-C, SIGTERM): 130, as shells report a command stopped by SIGINT.
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) ? (typeof exit.value === "number" ? exit.value : 1) : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
})
