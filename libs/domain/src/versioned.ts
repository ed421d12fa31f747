import { Either, ParseResult, Schema, SchemaAST } from "effect"
import { type DecodeError, type Family, InvalidMessage, MalformedMessage, UnknownMessageType, UnknownMessageVersion } from "./decode-errors.js"

/**
 * A versioned wire message: `type` and `version` literals plus fields. Both literals default in
 * `make`, so producers write `OrderPlaced.make({ orderId, ... })`; a breaking payload change is a
 * new version with its own schema, and decoders keep accepting the old one.
 */
export const versioned = <const T extends string, const V extends number, F extends Schema.Struct.Fields>(
  type: T,
  version: V,
  fields: F
) =>
  Schema.Struct({
    type: Schema.Literal(type).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => type)),
    version: Schema.Literal(version).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => version)),
    ...fields
  }).annotations({ identifier: `${type}v${version}` })

/**
 * The `type` of every message a schema accepts (a versioned message, or a union of them), read from
 * the schema itself so a list derived from it cannot drift from it.
 */
export const messageTypesOf = <A extends { readonly type: string }>(schema: Schema.Schema<A, any>): ReadonlyArray<A["type"]> => {
  const typesIn = (ast: SchemaAST.AST): ReadonlyArray<string> => {
    switch (ast._tag) {
      case "Union": return ast.types.flatMap(typesIn)
      case "Refinement": return typesIn(ast.from)
      case "Transformation": return typesIn(ast.to)
      case "TypeLiteral": {
        const type = ast.propertySignatures.find((p) => p.name === "type")?.type
        return type !== undefined && SchemaAST.isLiteral(type) && typeof type.literal === "string" ? [type.literal] : []
      }
      default: return []
    }
  }
  return [...new Set(typesIn(schema.ast))] as ReadonlyArray<A["type"]>
}

/** type -> version -> schema. Adding a version is adding an entry; old producers keep decoding. */
export type Registry = { readonly [type: string]: { readonly [version: number]: Schema.Schema.AnyNoContext } }

/** The union of every schema's type in a registry. */
export type RegistryType<R extends Registry> = {
  [T in keyof R]: { [V in keyof R[T]]: Schema.Schema.Type<R[T][V]> }[keyof R[T]]
}[keyof R]

const textDecoder = new TextDecoder("utf-8", { fatal: true })

const parse = (family: Family, input: unknown): Either.Either<unknown, MalformedMessage> => {
  if (!(typeof input === "string" || input instanceof Uint8Array)) return Either.right(input)
  try {
    return Either.right(JSON.parse(typeof input === "string" ? input : textDecoder.decode(input)))
  } catch (e) {
    return Either.left(new MalformedMessage({ family, reason: `not JSON (${e instanceof Error ? e.message : String(e)})` }))
  }
}

const describe = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value)

const issuesOf = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message
  }))

/**
 * Decodes a payload (JSON text, UTF-8 bytes, or an already-parsed value) into one member of the
 * family, telling apart: not an object at all, an unknown `type`, an unknown `version` of a known
 * type, and a known type+version whose fields fail validation (with the field path).
 */
export const makeDecoder = <const R extends Registry>(family: Family, registry: R) => {
  type A = RegistryType<R>
  const knownTypes = Object.keys(registry)
  return (input: unknown): Either.Either<A, DecodeError> =>
    Either.flatMap(parse(family, input), (value): Either.Either<A, DecodeError> => {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return Either.left(new MalformedMessage({ family, reason: `expected a JSON object, got ${describe(value)}` }))
      }
      const { type, version } = value as { readonly type?: unknown; readonly version?: unknown }
      if (typeof type !== "string") {
        return Either.left(new MalformedMessage({ family, reason: "missing string field \"type\"" }))
      }
      const versions = Object.hasOwn(registry, type) ? registry[type] : undefined
      if (versions === undefined) return Either.left(new UnknownMessageType({ family, type, known: knownTypes }))
      const schema = typeof version === "number" && Object.hasOwn(versions, version) ? versions[version] : undefined
      if (schema === undefined || typeof version !== "number") {
        return Either.left(new UnknownMessageVersion({ family, type, version, known: Object.keys(versions).map(Number) }))
      }
      return Schema.decodeUnknownEither(schema as Schema.Schema<A, unknown>, { errors: "all" })(value).pipe(
        Either.mapLeft((error) => new InvalidMessage({ family, type, version, issues: issuesOf(error) }))
      )
    })
}
