// What ItemBuilder.buildRecord writes straight into a line's bytes: a CSV
// field's bytes copied when they are already their JSON, PostgreSQL's usual
// timestamp made canonical byte by byte, short strings char by char. Each
// gives exactly the bytes of the string path (model/item.ts build), or -1 so
// the caller takes that path (model/item-record.test.ts holds them equal).
import { isUtf8 } from 'node:buffer';
import type { ByteBuffer } from '../lib/byte-buffer.ts';
import { KEY_ATTRIBUTES } from './table.ts';
import { utcSeconds } from './decode/timestamp.ts';

export const ITEM_OPEN = Buffer.from('{"Item":{');
export const KEY_OPEN = KEY_ATTRIBUTES.map((name) => [name, Buffer.from(`"${name}":{"S":`)] as const);
export const KEY_CLOSE = Buffer.from('},');
export const VALUE_CLOSE = Buffer.from('}');
export const DATA_CLOSE = Buffer.from('}}');
export const STAMP_CLOSE = Buffer.from('"}');
export const TTL_OPEN = Buffer.from(',"ttl":{"N":');
export const LINE_CLOSE = Buffer.from('}}\n');
export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const CLOSE_BRACE = 0x7d;

export function putBytes(bytes: Buffer, to: Buffer, at: number): void {
  // A loop: the names are short, and a native copy per field costs more.
  for (let k = 0; k < bytes.length; k++) to[at + k] = bytes[k]!;
}

/**
 * Copies text bytes [start, end) to `to` at `at` when their JSON string is
 * the bytes themselves (valid UTF-8, no control character, `"` or `\`, which
 * is all JSON.stringify escapes in valid UTF-8) and returns their count, the
 * value's size; -1 when the text needs valueJson.
 */
export function copyText(from: Buffer, start: number, end: number, to: Buffer, at: number): number {
  let wide = false;
  for (let i = start; i < end; i++) {
    const c = from[i]!;
    if (c < 0x20 || c === 0x22 || c === 0x5c) return -1;
    if (c > 0x7e) wide = true;
    to[at + i - start] = c;
  }
  return wide && !isUtf8(from.subarray(start, end)) ? -1 : end - start;
}

/** An integer's digits (decodeInteger's form: an optional `-`, then at least one digit) copied; -1 for anything else. */
export function copyInteger(from: Buffer, start: number, end: number, to: Buffer, at: number): number {
  let i = start;
  if (from[i] === 0x2d) to[at + i - start] = from[i++]!;
  if (i === end) return -1;
  for (; i < end; i++) {
    const c = from[i]!;
    if (c < 0x30 || c > 0x39) return -1;
    to[at + i - start] = c;
  }
  return end - start;
}

/** numberSize of an integer's bytes (copyInteger's form). */
export function integerSize(from: Buffer, start: number, end: number): number {
  const negative = from[start] === 0x2d;
  let i = negative ? start + 1 : start;
  while (i < end && from[i] === 0x30) i++;
  if (i === end) return 1; // zero
  let last = i;
  for (let k = i; k < end; k++) if (from[k] !== 0x30) last = k;
  // Base-100 pairs aligned on the point (numberSize): the powers of ten of the first and last significant digits.
  const high = end - 1 - i;
  const low = end - 1 - last;
  return Math.floor(high / 2) - Math.floor(low / 2) + 2 + (negative ? 1 : 0);
}

const DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
const PUNCTUATION_AT: [number, number][] = [[4, 0x2d], [7, 0x2d], [10, 0x20], [13, 0x3a], [16, 0x3a]];

/**
 * The fraction's digit count (0: none) when bytes [start, end) are
 * PostgreSQL's usual `YYYY-MM-DD HH:MM:SS[.f…]` (`+00` after it when
 * `zoned`); -1 for any other text (infinities, BC, 5-digit years, a bad
 * zone), which the decoder then reads or refuses.
 */
function timestampFraction(from: Buffer, start: number, end: number, zoned: boolean): number {
  const stop = zoned ? end - 3 : end;
  if (stop < start + 19) return -1;
  if (zoned && (from[stop] !== 0x2b || from[stop + 1] !== 0x30 || from[stop + 2] !== 0x30)) return -1;
  for (const k of DIGIT_AT) {
    const c = from[start + k]!;
    if (c < 0x30 || c > 0x39) return -1;
  }
  for (const [k, c] of PUNCTUATION_AT) if (from[start + k] !== c) return -1;
  if (stop === start + 19) return 0;
  const fraction = stop - start - 20;
  if (from[start + 19] !== 0x2e || fraction < 1 || fraction > 6) return -1;
  for (let i = start + 20; i < stop; i++) {
    const c = from[i]!;
    if (c < 0x30 || c > 0x39) return -1;
  }
  return fraction;
}

/** The canonical timestamp (decode/timestamp.ts) of timestampFraction's form written to `to` at `at`: its length, or -1. */
export function copyTimestamp(from: Buffer, start: number, end: number, zoned: boolean, to: Buffer, at: number): number {
  const fraction = timestampFraction(from, start, end, zoned);
  if (fraction < 0) return -1;
  for (let k = 0; k < 19; k++) to[at + k] = from[start + k]!;
  to[at + 10] = 0x54; // T
  to[at + 19] = 0x2e; // .
  for (let k = 0; k < 6; k++) to[at + 20 + k] = k < fraction ? from[start + 20 + k]! : 0x30;
  if (zoned) to[at + 26] = 0x5a; // Z
  return zoned ? 27 : 26;
}

/** epochSeconds of timestampFraction's form, from its digits; undefined for any other text. */
export function timestampSeconds(from: Buffer, start: number, end: number, zoned: boolean): number | undefined {
  if (timestampFraction(from, start, end, zoned) < 0) return undefined;
  const n = (k: number, digits: number) => number(from, start + k, digits);
  // The same numbers epochSeconds gives utcSeconds.
  return utcSeconds(n(0, 4), n(5, 2), n(8, 2), n(11, 2), n(14, 2), n(17, 2));
}

/** The decimal number of `digits` ASCII digits at `at`. */
function number(from: Buffer, at: number, digits: number): number {
  let value = 0;
  for (let i = 0; i < digits; i++) value = value * 10 + from[at + i]! - 0x30;
  return value;
}

/**
 * Writes `text` as a JSON string (quotes included) to `out`; returns its
 * UTF-8 size. Printable ASCII without `"` and `\` (PLAIN) is copied char by
 * char: a native write per short string cost more than the loop.
 */
export function putString(text: string, out: ByteBuffer): number {
  out.reserve(text.length + 2);
  const to = out.buffer;
  const at = out.length;
  to[at] = QUOTE;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      out.append(JSON.stringify(text));
      return Buffer.byteLength(text, 'utf8');
    }
    to[at + 1 + k] = c;
  }
  to[at + 1 + text.length] = QUOTE;
  out.length = at + text.length + 2;
  return text.length;
}

export function putConstant(bytes: Buffer, out: ByteBuffer): void {
  out.reserve(bytes.length);
  putBytes(bytes, out.buffer, out.length);
  out.length += bytes.length;
}
