// smallint, integer, bigint and oid print as plain digits; all fit DynamoDB's
// 38 digits, so the text is the number (never through a JS number, which
// would round bigints past 2^53).
import type { AttributeValue } from '../attribute.ts';

export function decodeInteger(text: string): AttributeValue {
  const end = text.length;
  let i = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === end) throw new Error(`integer: not an integer: ${JSON.stringify(text)}`);
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) throw new Error(`integer: not an integer: ${JSON.stringify(text)}`);
  }
  return { N: text };
}
