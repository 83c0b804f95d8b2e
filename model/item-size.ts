// DynamoDB's item size rules (Developer Guide, "Item sizes and formats"):
// strings count their UTF-8 bytes, binaries their bytes, numbers about one byte
// per two significant digits plus one, BOOL and NULL one byte, lists and maps
// three bytes plus one per element, and every attribute or map key its name.
import type { AttributeValue } from './attribute.ts';

export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * Bytes of a number. DynamoDB stores a number's significant digits in base
 * 100, in pairs aligned on the decimal point (as 10^2k), so a number is one
 * byte per pair its significant digits touch, plus one, plus one more for a
 * negative number: `12` and `0.12` are 2 bytes, `120`, `1.2` and `-1` are 3,
 * `100.001` is 5 (measured on DynamoDB Local 3.3.0: a list of 136,531 `12`
 * is the most a 400 KB item holds, against 102,398 `120` or `1.2` and 68,265
 * `100.001`). Zero, `-0` included, is 1 byte (204,796 of them).
 */
export function numberSize(text: string): number {
  let digits = 0; // mantissa digits seen
  let point = -1; // mantissa digits before the point, once it is seen
  let first = -1; // index of the first non-zero digit
  let last = -1; // index of the last non-zero digit
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 101 || c === 69) break; // e, E
    if (c === 46) { point = digits; continue; }
    if (c < 48 || c > 57) continue; // sign
    if (c !== 48) {
      if (first < 0) first = digits;
      last = digits;
    }
    digits++;
  }
  if (first < 0) return 1; // zero
  const exponent = i < text.length ? Number(text.slice(i + 1)) : 0;
  const units = (point < 0 ? digits : point) - 1 + exponent; // the power of ten of the first mantissa digit
  const high = units - first; // the power of ten of the first significant digit
  const low = units - last; // of the last
  const pairs = Math.floor(high / 2) - Math.floor(low / 2) + 1;
  return pairs + 1 + (text.charCodeAt(0) === 45 ? 1 : 0);
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
