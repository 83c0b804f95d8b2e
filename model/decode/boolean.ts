// boolean prints as `t` or `f`.
import type { AttributeValue } from '../attribute.ts';

export function decodeBoolean(text: string): AttributeValue {
  if (text === 't') return { BOOL: true };
  if (text === 'f') return { BOOL: false };
  throw new Error(`boolean: expected t or f, got ${JSON.stringify(text)}`);
}
