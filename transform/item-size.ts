// DynamoDB's item size rules (Developer Guide, "Item sizes and formats"):
// strings count their UTF-8 bytes, binaries their bytes, numbers about one byte
// per two significant digits plus one, BOOL and NULL one byte, lists and maps
// three bytes plus one per element, and every attribute or map key its name.
import type { AttributeValue } from './decode/attribute.ts';

export const MAX_ITEM_BYTES = 400 * 1024;

export function numberSize(text: string): number {
  const digits = text.replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

export function attributeSize(value: AttributeValue): number {
  if ('S' in value) return Buffer.byteLength(value.S, 'utf8');
  if ('N' in value) return numberSize(value.N);
  if ('B' in value) return Buffer.byteLength(value.B, 'base64');
  if ('BOOL' in value || 'NULL' in value) return 1;
  if ('L' in value) return value.L.reduce((n, v) => n + 1 + attributeSize(v), 3);
  let n = 3;
  for (const key in value.M) n += 1 + Buffer.byteLength(key, 'utf8') + attributeSize(value.M[key]!);
  return n;
}
