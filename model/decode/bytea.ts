// bytea prints as `\x` and two lower-case hex digits per byte (the extract
// pins bytea_output=hex); DynamoDB JSON carries binary as base64.
import type { AttributeValue } from '../attribute.ts';

export function decodeBytea(text: string): AttributeValue {
  if (text.charCodeAt(0) !== 92 /* \ */ || text.charCodeAt(1) !== 120 /* x */) {
    throw new Error('bytea: expected hex output starting with \\x (the extract must run with bytea_output=hex)');
  }
  const hexDigits = text.length - 2;
  const bytes = Buffer.from(text.slice(2), 'hex');
  // Buffer.from stops silently at the first pair that is not hex.
  if (hexDigits % 2 !== 0 || bytes.length * 2 !== hexDigits) {
    throw new Error('bytea: the \\x output has a character that is not a hex digit, or an odd number of them');
  }
  return { B: bytes.toString('base64') };
}
