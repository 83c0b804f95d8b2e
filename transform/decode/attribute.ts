// The DynamoDB attribute value a decoded PostgreSQL field becomes, in the
// shape DynamoDB JSON writes it (`{"S":"…"}`, `{"N":"12.50"}`, …).

export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { B: string /* base64 */ }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> };

/**
 * Counts a lossless fallback: the value could not take its natural DynamoDB
 * type and was kept as S. `reason` is a fixed phrase (never the value: the
 * data is health data, and fixed phrases can be counted).
 */
export type Warn = (reason: string) => void;

/** Decodes one non-NULL field, as PostgreSQL printed it, to an attribute value. */
export type Decoder = (text: string, warn: Warn) => AttributeValue;
