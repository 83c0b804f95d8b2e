// Decoding of COPY output: a column's PostgreSQL text → its DynamoDB attribute
// value, typed as DESIGN.md's type table says. A decoder is chosen once per
// column from the manifest's type and called once per non-NULL field.
import type { ColumnSchema } from '../../lib/manifest.ts';
import type { Decoder } from '../attribute.ts';
import { arrayDecoder } from './array.ts';
import { decodeBoolean } from './boolean.ts';
import { decodeBytea } from './bytea.ts';
import { decodeFloat } from './float.ts';
import { decodeInteger } from './integer.ts';
import { jsonDecoder } from './json.ts';
import { decodeNumeric } from './numeric.ts';
import { decodeText } from './text.ts';
import { decodeTimestamp, decodeTimestamptz } from './timestamp.ts';

export type { AttributeValue, Decoder, Warn } from '../attribute.ts';
export { canonicalTimestamp } from './timestamp.ts';

/** The level of a column inside the item's `data` map (`data` itself is a top-level attribute, level 1). */
export const COLUMN_DEPTH = 2;

/**
 * The decoder for `column`'s values. `depth`: the DynamoDB nesting level the
 * value sits at (a column inside the item's `data` map is at 2); it bounds how
 * deep json documents and arrays may nest.
 *
 * A domain decodes as its base type. A type this module does not know
 * (enums, citext, composites, ranges, int2vector, an array element that is a
 * domain…) keeps its text as S.
 */
export function decoderFor(column: ColumnSchema, depth: number = COLUMN_DEPTH): Decoder {
  // A domain over an array decodes as that array, its elements by the element_type extract records (an array of a
  // domain's base type); a manifest from before recorded '-' (a domain has no typelem): the base type's own name then.
  if (column.base_type) return decoderForType(column.base_type, column.element_type === '-' ? undefined : column.element_type, depth);
  return decoderForType(column.type, column.element_type, depth);
}

type Family = 'boolean' | 'integer' | 'numeric' | 'float' | 'timestamptz' | 'timestamp' | 'bytea' | 'json';

/** format_type names (and the internal names, should a manifest use them), without typmod. */
const FAMILY_OF_TYPE = new Map<string, Family>([
  ['boolean', 'boolean'], ['bool', 'boolean'],
  ['smallint', 'integer'], ['integer', 'integer'], ['bigint', 'integer'], ['oid', 'integer'],
  ['int2', 'integer'], ['int4', 'integer'], ['int8', 'integer'], ['int', 'integer'],
  ['numeric', 'numeric'], ['decimal', 'numeric'],
  ['real', 'float'], ['double precision', 'float'], ['float4', 'float'], ['float8', 'float'],
  ['timestamp with time zone', 'timestamptz'], ['timestamptz', 'timestamptz'],
  ['timestamp without time zone', 'timestamp'], ['timestamp', 'timestamp'],
  ['bytea', 'bytea'],
  ['json', 'json'], ['jsonb', 'json'],
]);

const DECODER_OF_FAMILY: Record<Exclude<Family, 'json'>, Decoder> = {
  boolean: decodeBoolean,
  integer: decodeInteger,
  numeric: decodeNumeric,
  float: decodeFloat,
  timestamptz: decodeTimestamptz,
  timestamp: decodeTimestamp,
  bytea: decodeBytea,
};

const TYPMOD = /\(\s*\d+\s*(?:,\s*-?\d+\s*)?\)/g;

function decoderForType(type: string, elementType: string | undefined, depth: number): Decoder {
  const name = type.trim().replace(/^pg_catalog\./, '').replace(TYPMOD, '');
  // Only `…[]` is an array in this text form: int2vector and oidvector are in
  // category A too, but print space-separated, not as `{…}`.
  if (name.endsWith('[]')) {
    const element = elementType ?? type.trim().slice(0, -2);
    // box is the one built-in type whose array delimiter is ';'.
    const delimiter = element.replace(/^pg_catalog\./, '') === 'box' ? ';' : ',';
    return arrayDecoder((level) => decoderForType(element, undefined, level), depth, delimiter);
  }
  const family = FAMILY_OF_TYPE.get(name);
  if (family === undefined) return decodeText;
  if (family === 'json') return jsonDecoder(depth);
  return DECODER_OF_FAMILY[family];
}
