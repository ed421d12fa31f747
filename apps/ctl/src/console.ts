import { Console, Effect } from "effect"

// ANSI SGR sequences (colours, bold), built from a string: the escape character is the point here.
const ESC = "\u001b"
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, "g")

export interface CliConsoleOptions {
  /** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
  readonly colour: boolean
  /** Help and messages are wrapped to this many columns. */
  readonly width: number
}

export const cliConsoleOptions = (stream: NodeJS.WriteStream = process.stdout): CliConsoleOptions => ({
  colour: stream.isTTY === true && process.env["NO_COLOR"] === undefined,
  width: Math.min(100, stream.columns ?? 100)
})

/** Wraps a line at spaces to `width`, continuing with the line's own indentation. */
const wrap = (line: string, width: number): ReadonlyArray<string> => {
  const visible = line.replace(ANSI, "")
  if (visible.length <= width) return [line]
  const indent = /^\s*/.exec(visible)![0]
  const out: Array<string> = []
  let current = ""
  for (const word of visible.trim().split(/\s+/)) {
    const next = current === "" ? `${indent}${word}` : `${current} ${word}`
    if (next.length > width && current !== "") {
      out.push(current)
      current = `${indent}${word}`
    } else current = next
  }
  if (current !== "") out.push(current)
  return out
}

/**
 * The text @effect/cli (or a command) prints, made fit for where it goes. Only styled text (help
 * and usage errors, which @effect/cli renders with ANSI styles) is reflowed: a command's tables and
 * JSON pass through as they are, colours aside.
 */
export const formatForCli = (args: ReadonlyArray<unknown>, options: CliConsoleOptions): string => {
  const text = args.map((a) => (typeof a === "string" ? a : String(a))).join(" ")
  const styled = text.includes(`${ESC}[`)
  if (!styled) return text
  const plain = options.colour ? text : text.replace(ANSI, "")
  const lines = plain.split("\n").map((l) => l.trimEnd())
  // Wrapping would cut escape sequences apart: coloured text is left as it is, trailing blanks aside.
  return (options.colour ? lines : lines.flatMap((l) => wrap(l, options.width))).join("\n")
}

/** Every error line starts with `conveyor: ` (usage errors from @effect/cli included). */
export const prefixError = (text: string): string => {
  const trimmed = text.replace(/^\n+|\n+$/g, "")
  return trimmed.startsWith("conveyor: ") ? trimmed : `conveyor: ${trimmed}`
}

/**
 * Runs `effect` with a Console whose `log` and `error` strip colours off a non-terminal (or with
 * NO_COLOR), wrap what goes to stdout (help) to 100 columns and prefix errors with `conveyor: `.
 */
export const withCliConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => {
    const out = cliConsoleOptions(process.stdout)
    // An error stays one line however long: scripts and log searches read it whole.
    const err = { ...cliConsoleOptions(process.stderr), width: Number.POSITIVE_INFINITY }
    return Console.withConsole(effect, {
      ...base,
      log: (...args) => base.log(formatForCli(args, out)),
      error: (...args) => base.error(prefixError(formatForCli(args, err)))
    })
  })
