// The one DynamoDB attribute value type, in the shape DynamoDB JSON writes it
// (`{"S":"…"}`, `{"N":"12.50"}`, B as base64 text): what a decoded PostgreSQL
// field becomes, what item files hold and what verify reads back. Its rules
// live beside it: sizes in item-size.ts, numbers and nesting in
// dynamodb-limits.ts, comparison and the SDK form in attribute-json.ts.

export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { B: string /* base64 */ }
  // Sets: transform never writes them (arrays become L), but a table may hold them.
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> };

/** An item: attribute name → value. */
export type ItemJson = Record<string, AttributeValue>;

/**
 * Counts a lossless fallback: the value could not take its natural DynamoDB
 * type and was kept as S. `reason` is a fixed phrase (never the value: the
 * data is health data, and fixed phrases can be counted).
 */
export type Warn = (reason: string) => void;

/** Decodes one non-NULL field, as PostgreSQL printed it, to an attribute value. */
export type Decoder = (text: string, warn: Warn) => AttributeValue;
