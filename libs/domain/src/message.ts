import { Schema } from "effect"

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
