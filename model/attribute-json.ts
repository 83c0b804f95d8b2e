// DynamoDB JSON as the item files hold it (B as base64 text) ↔ the SDK's
// AttributeValue (B as bytes), and the canonical form two items are compared
// in. DynamoDB stores numbers, not their text: "1.50" reads back as "1.5" and
// "1E+2" as "100", so numbers compare by exact decimal value, never through a
// JS number; maps compare without regard to key order, sets as sets.
// Map keys and attribute names are data: `__proto__`, `constructor`… are
// ordinary keys here (lib/own-property.ts), as they are in DynamoDB.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { getOwn, setOwn } from '../lib/own-property.ts';
import type { AttributeValue as AttributeJson, ItemJson } from './attribute.ts';

/** The attribute value type (attribute.ts), named here for the JSON side of the SDK's AttributeValue. */
export type { AttributeJson, ItemJson };
export type ItemValue = Record<string, AttributeValue>;

export function toAttributeValue(value: AttributeJson): AttributeValue {
  if ('B' in value) return { B: Buffer.from(value.B, 'base64') };
  if ('BS' in value) return { BS: value.BS.map((b) => Buffer.from(b, 'base64')) };
  if ('M' in value) return { M: toItemValue(value.M) };
  if ('L' in value) return { L: value.L.map(toAttributeValue) };
  return value as AttributeValue;
}

export function toItemValue(item: ItemJson): ItemValue {
  const out: ItemValue = {};
  for (const [name, value] of Object.entries(item)) setOwn(out, name, toAttributeValue(value));
  return out;
}

export function fromAttributeValue(value: AttributeValue): AttributeJson {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: fromItemValue(value.M) };
  if (value.L !== undefined) return { L: value.L.map(fromAttributeValue) };
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: true };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  throw new Error(`unknown attribute value type ${Object.keys(value).join(',')}`);
}

export function fromItemValue(item: ItemValue): ItemJson {
  const out: ItemJson = {};
  for (const [name, value] of Object.entries(item)) setOwn(out, name, fromAttributeValue(value));
  return out;
}

/** A number's exact value as text: sign, significant digits without leading or trailing zeros, exponent. */
export function canonicalNumber(text: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return `invalid:${text}`;
  const digits = `${m[2]}${m[3] ?? ''}`;
  let exponent = Number(m[4] ?? 0) - (m[3] ?? '').length;
  const lead = digits.replace(/^0+/, '');
  if (lead === '') return '0';
  const significant = lead.replace(/0+$/, '');
  exponent += lead.length - significant.length;
  return `${m[1] === '-' ? '-' : ''}${significant}e${exponent}`;
}

/**
 * A canonical text of a value: equal texts ⇔ DynamoDB holds equal values.
 * Built by concatenation in one pass (verify hashes it for every item of the
 * table and of the run: the map/join form took 19 µs for a 1 KB user item).
 */
export function canonicalValue(value: AttributeJson): string {
  const v = value as Partial<Record<string, unknown>>;
  // Strings and names are length-prefixed, not quoted: unambiguous, and no escaping pass.
  if (v.S !== undefined) return `S${(v.S as string).length}:${v.S as string}`;
  if (v.N !== undefined) return `N:${canonicalNumber(v.N as string)}`;
  if (v.M !== undefined) {
    const map = v.M as Record<string, AttributeJson>;
    const names = Object.keys(map).sort();
    let out = 'M:{';
    for (let i = 0; i < names.length; i++) out += `${i > 0 ? ',' : ''}${names[i]!.length}:${names[i]!}=${canonicalValue(map[names[i]!]!)}`;
    return `${out}}`;
  }
  if (v.L !== undefined) {
    const list = v.L as AttributeJson[];
    let out = 'L:[';
    for (let i = 0; i < list.length; i++) out += `${i > 0 ? ',' : ''}${canonicalValue(list[i]!)}`;
    return `${out}]`;
  }
  if (v.NS !== undefined) return `NS:${JSON.stringify((v.NS as string[]).map(canonicalNumber).sort())}`;
  if (v.SS !== undefined) return `SS:${JSON.stringify([...(v.SS as string[])].sort())}`;
  if (v.BS !== undefined) return `BS:${JSON.stringify([...(v.BS as string[])].sort())}`;
  return JSON.stringify(value);
}

/** Names of the top-level attributes whose values differ (or exist on one side only), sorted. */
export function differingAttributes(expected: ItemJson, actual: ItemJson): string[] {
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...names].filter((name) => {
    const a = getOwn(expected, name);
    const b = getOwn(actual, name);
    return !a || !b || canonicalValue(a) !== canonicalValue(b);
  }).sort();
}
