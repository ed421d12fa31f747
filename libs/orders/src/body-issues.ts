import { Option, ParseResult, SchemaAST } from "effect"

/**
 * What is wrong with a request body, said without repeating it. Effect's formatters print the
 * received value ("actual …") and, for a wrong shape, the whole expected type, which echoes a
 * client's 10,000-character field and recursed into a deeply nested body until the stack ran out.
 */
export interface BodyIssue {
  /** Dotted path of the field (`items.0.sku`), `(body)` for the body itself. */
  readonly field: string
  readonly message: string
}

/** Deeper than any valid order body (object → items → item → value), shallow enough to walk cheaply. */
export const MAX_BODY_DEPTH = 16
const MAX_ISSUES = 20
const MAX_KEY_CHARS = 40
const MAX_MESSAGE_CHARS = 200

/** How deep a parsed JSON value nests, stopping at `limit + 1`; iterative, so any input is safe. */
export const jsonDepth = (value: unknown, limit = MAX_BODY_DEPTH): number => {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== "object" || v === null) continue
    if (depth > deepest) deepest = depth
    if (deepest > limit) return deepest
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return deepest
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}…`)

const fieldOf = (path: ReadonlyArray<PropertyKey>) =>
  path.length === 0 ? "(body)" : path.map((p) => clip(String(p), MAX_KEY_CHARS)).join(".")

// A schema's own words for what it expects, when it has short ones; else its kind.
const kinds: Partial<Record<SchemaAST.AST["_tag"], string>> = {
  TypeLiteral: "an object", TupleType: "an array", StringKeyword: "a string", NumberKeyword: "a number",
  BooleanKeyword: "a boolean", Union: "one of the accepted forms"
}
const expected = (ast: SchemaAST.AST): string => {
  const description = SchemaAST.getDescriptionAnnotation(ast).pipe(Option.filter((d) => d.length <= 80))
  if (Option.isSome(description)) return description.value
  if (ast._tag === "Refinement") return expected(ast.from)
  if (ast._tag === "Literal") return JSON.stringify(ast.literal)
  return kinds[ast._tag] ?? "another value"
}

/** A schema's custom message (e.g. the order id pattern's), if it has one that is plain text. */
const customMessage = (ast: SchemaAST.AST, issue: ParseResult.ParseIssue): string | undefined => {
  const annotation = SchemaAST.getMessageAnnotation(ast)
  if (Option.isNone(annotation)) return undefined
  const out = annotation.value(issue)
  if (typeof out === "string") return out
  return typeof out === "object" && "message" in out && typeof out.message === "string" ? out.message : undefined
}

/** The leaves of a decode failure as field + message, at most MAX_ISSUES of them. */
export const bodyIssues = (error: ParseResult.ParseError): ReadonlyArray<BodyIssue> => {
  const out: Array<BodyIssue> = []
  const add = (path: ReadonlyArray<PropertyKey>, message: string) => {
    if (out.length < MAX_ISSUES) out.push({ field: fieldOf(path), message: clip(message, MAX_MESSAGE_CHARS) })
  }
  const walk = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): void => {
    if (out.length >= MAX_ISSUES) return
    switch (issue._tag) {
      case "Pointer":
        return walk(issue.issue, [...path, ...(Array.isArray(issue.path) ? issue.path : [issue.path as PropertyKey])])
      case "Composite":
        for (const i of Array.isArray(issue.issues) ? issue.issues : [issue.issues]) walk(i, path)
        return
      case "Transformation":
        return walk(issue.issue, path)
      case "Refinement":
        if (issue.kind === "From") return walk(issue.issue, path)
        return add(path, customMessage(issue.ast, issue) ?? leafMessage(issue.issue) ?? `expected ${expected(issue.ast)}`)
      case "Missing":
        return add(path, "is required")
      case "Unexpected":
        return add(path, "is not an accepted field")
      case "Type":
      case "Forbidden":
        return add(path, leafMessage(issue) ?? `expected ${expected(issue.ast)}`)
    }
  }
  walk(error.issue, [])
  return out
}

// A message set on the issue itself (a filter's `{ path, message }`) or by the schema.
const leafMessage = (issue: ParseResult.ParseIssue): string | undefined =>
  (issue._tag === "Type" || issue._tag === "Forbidden") ? (issue.message ?? customMessage(issue.ast, issue)) : undefined
