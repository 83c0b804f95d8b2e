// Types DynamoDB has no closer type for keep PostgreSQL's text exactly:
// text, varchar, char (with its padding), citext, enums, uuid, inet, cidr,
// macaddr, money (locale-formatted, `$1,234.50`), xml, interval (ISO 8601, as
// the extract pins IntervalStyle), time, timetz, date (`YYYY-MM-DD`),
// composites and any type this module does not know.
import type { AttributeValue } from '../attribute.ts';

export function decodeText(text: string): AttributeValue {
  return { S: text };
}
