// DynamoDB's item size rules (Developer Guide, "Item sizes and formats"):
// strings count their UTF-8 bytes, binaries their bytes, numbers about one byte
// per two significant digits plus one, BOOL and NULL one byte, lists and maps
// three bytes plus one per element, and every attribute or map key its name.
import type { AttributeValue } from './attribute.ts';

export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * Bytes of a number: one per two significant digits (leading and trailing
 * zeros trimmed), plus one, plus one more for a negative number (measured on
 * DynamoDB Local 3.3.0: a list of 102,397 `-1` is the most a 400 KB item holds,
 * against 136,530 `1`).
 */
export function numberSize(text: string): number {
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 101 || c === 69) break; // e, E: the exponent does not count
    if (c < 48 || c > 57) continue; // sign, point
    if (first < 0 && c === 48) continue; // leading zeros
    if (first < 0) first = count;
    count++;
    if (c !== 48) last = count;
  }
  const significant = first < 0 ? 0 : last - first;
  const negative = first >= 0 && text.charCodeAt(0) === 45; // '-', and not zero
  return Math.ceil(Math.max(significant, 1) / 2) + 1 + (negative ? 1 : 0);
}

export function attributeSize(value: AttributeValue): number {
  if ('S' in value) return Buffer.byteLength(value.S, 'utf8');
  if ('N' in value) return numberSize(value.N);
  if ('B' in value) return Buffer.byteLength(value.B, 'base64');
  if ('BOOL' in value || 'NULL' in value) return 1;
  // A set: its members' sizes summed (not measured: transform writes no sets).
  if ('SS' in value) return value.SS.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
  if ('NS' in value) return value.NS.reduce((n, s) => n + numberSize(s), 0);
  if ('BS' in value) return value.BS.reduce((n, s) => n + Buffer.byteLength(s, 'base64'), 0);
  if ('L' in value) return value.L.reduce((n, v) => n + 1 + attributeSize(v), 3);
  let n = 3;
  for (const key in value.M) n += 1 + Buffer.byteLength(key, 'utf8') + attributeSize(value.M[key]!);
  return n;
}
