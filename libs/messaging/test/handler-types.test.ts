// Compile-time checks of defineHandler, kept honest by the project's typecheck (tsconfig includes
// test/): each `@ts-expect-error` fails the typecheck if the line below it compiles.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { defineHandler, type OutgoingMessage } from "../src/index.js"

const Event = Schema.Struct({ id: Schema.String })
class Down extends Schema.TaggedError<Down>()("Down", {}) {}

describe("defineHandler's types", () => {
  it("accepts a handle that succeeds with void or the messages it produces, and refuses any other success type", () => {
    const quiet = defineHandler({ schema: Event, handle: () => Effect.void, errors: {} })
    const producing = defineHandler({ schema: Event, handle: (): Effect.Effect<ReadonlyArray<OutgoingMessage>> => Effect.succeed([]), errors: {} })
    const failing = defineHandler({ schema: Event, handle: (e) => (e.id === "" ? Effect.fail(new Down()) : Effect.void), errors: { Down: "retry" } })
    // The compiler's message here is "Type 'number' is not assignable to type 'void | readonly OutgoingMessage[]'".
    // @ts-expect-error a handler that succeeds with a number
    const wrong = defineHandler({ schema: Event, handle: () => Effect.succeed(42), errors: {} })
    // @ts-expect-error a handler that may succeed with a string
    const mixed = defineHandler({ schema: Event, handle: (e) => (e.id === "" ? Effect.fail(new Down()) : Effect.succeed("done")), errors: { Down: "retry" } })
    // @ts-expect-error an error tag without its handling
    const unmapped = defineHandler({ schema: Event, handle: () => Effect.fail(new Down()), errors: {} })
    expect([quiet, producing, failing, wrong, mixed, unmapped].map((h) => h.schema)).toEqual(Array(6).fill(Event))
  })

  it("says what is wrong with a handle's success type (not \"exactOptionalPropertyTypes\")", () => {
    const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL("../tsconfig.json", import.meta.url)), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!
    const file = fileURLToPath(new URL("./wrong-output.virtual.ts", import.meta.url))
    const source = [
      `import { Effect, Schema } from "effect"`,
      `import { defineHandler } from "../src/index.js"`,
      `export const h = defineHandler({ schema: Schema.Struct({ id: Schema.String }), handle: () => Effect.succeed(42), errors: {} })`
    ].join("\n")
    const host = ts.createCompilerHost(config.options)
    const read = host.getSourceFile
    host.getSourceFile = (name, version, ...rest) => (name === file ? ts.createSourceFile(name, source, version) : read.call(host, name, version, ...rest))
    const program = ts.createProgram([file], config.options, host)
    const messages = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    expect(messages).toHaveLength(1)
    expect(messages[0]).toContain("Type 'number' is not assignable to type 'void | readonly OutgoingMessage[]'")
    expect(messages[0]).not.toContain("exactOptionalPropertyTypes")
  }, 60_000)
})

