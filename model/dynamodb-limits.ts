// What a DynamoDB attribute value can hold, checked before a value is given a
// type DynamoDB would refuse (ImportTable fails the item, it does not coerce).
// Numbers: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html

/**
 * The deepest level a map or list may sit at. A top-level item attribute is
 * level 1 (so `data` is level 1 and a column inside it level 2); every M or L
 * puts its members one level deeper. DynamoDB refuses an M or L at level 32,
 * even an empty one ("Nesting Levels have exceeded supported limits"):
 * measured on DynamoDB Local 3.3.0 (a column at level 2 holds 30 nested
 * containers, not 31), and AWS reports 31 map wraps as the deepest a
 * top-level attribute accepts.
 */
export const MAX_CONTAINER_LEVEL = 31;

/** Significant digits DynamoDB keeps (leading and trailing zeros are not significant). */
export const MAX_SIGNIFICANT_DIGITS = 38;
/** Decimal exponents of the first significant digit: 1E-130 ..= 9.99…9E+125. */
export const MIN_EXPONENT = -130;
export const MAX_EXPONENT = 125;

/**
 * Map keys, like attribute names, in UTF-8 bytes. AWS documents 64 KB for an
 * attribute name; DynamoDB Local 3.3.0 refuses a name or map key over 50,000
 * bytes ("The request processing has failed because of an unknown error",
 * measured: 50,000 bytes of `a`, `é` or emoji stored, 50,001 refused, top
 * level and nested alike), so the stricter limit is kept: a json key of
 * 50,001..65,535 bytes failed the local load.
 */
export const MAX_KEY_BYTES = 50000;

/**
 * Key attribute values, in UTF-8 bytes, of the table and of every GSI alike
 * (Developer Guide, "Constraints": partition key 1..2048 bytes, sort key
 * 1..1024). A write over either fails: the table's key with "Hash primary key
 * values must be under 2048 bytes…", a GSI's with "Size limit exceeded"
 * (both measured on DynamoDB Local 3.3.0 at 2048/2049 and 1024/1025 bytes).
 */
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const DOT = 46;
const PLUS = 43;
const MINUS = 45;
const LOWER_E = 101;
const UPPER_E = 69;

/**
 * Why DynamoDB cannot store decimal `text` as a number, or undefined when it
 * can. `text` is `[+-]digits[.digits][e[+-]digits]` (either side of the point
 * may be empty, not both); anything else throws.
 *
 * Precision is that of the normalized number, as DynamoDB counts it: digits
 * from the first to the last non-zero one, so `1.500` has 2 and `1000` has 1.
 * Range is checked on the exponent of the first significant digit, in integer
 * arithmetic on the digit string (never through a float). Zero, in any form
 * (`0.000`, `-0`, `0e999`), is storable while its exponent and scale fit 32 bits.
 */
export function numberProblem(text: string): string | undefined {
  const end = text.length;
  let i = 0;
  let c = text.charCodeAt(0);
  if (c === MINUS || c === PLUS) c = text.charCodeAt(++i);

  let digits = 0; // mantissa digits seen
  let integerDigits = -1; // digits before the point, once a point is seen
  let firstSignificant = -1; // index (among mantissa digits) of the first non-zero digit
  let lastSignificant = -1;
  for (; i < end; c = text.charCodeAt(++i)) {
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (c !== DIGIT_0) {
        if (firstSignificant < 0) firstSignificant = digits;
        lastSignificant = digits;
      }
      digits++;
    } else if (c === DOT && integerDigits < 0) {
      integerDigits = digits;
    } else {
      break;
    }
  }
  if (digits === 0) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
  if (integerDigits < 0) integerDigits = digits;

  let exponent = 0;
  if (i < end) {
    if (c !== LOWER_E && c !== UPPER_E) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
    c = text.charCodeAt(++i);
    const negative = c === MINUS;
    if (c === MINUS || c === PLUS) c = text.charCodeAt(++i);
    const start = i;
    while (i < end && c === DIGIT_0) c = text.charCodeAt(++i); // leading zeros of the exponent
    const significantStart = i;
    for (; i < end; c = text.charCodeAt(++i)) {
      if (c < DIGIT_0 || c > DIGIT_9) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
    }
    if (i === start) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
    // More than 15 digits cannot be summed exactly; such an exponent is out of range anyway.
    const magnitude = i - significantStart > 15 ? Infinity : Number(text.slice(significantStart, i) || '0');
    exponent = negative ? -magnitude : magnitude;
  }

  if (firstSignificant < 0) {
    // Zero is in range whatever its exponent, but DynamoDB reads a number as Java's BigDecimal does: the
    // exponent, and the scale (fraction digits minus exponent), must each fit in 32 bits. Measured on
    // DynamoDB Local 3.3.0: 0e2147483647 and 0.0e-2147483646 are stored; 0e2147483648, 0e-2147483648 and
    // 0.0e-2147483647 are "A value provided cannot be converted into a number" (the json type keeps such text).
    const scale = digits - integerDigits - exponent;
    if (exponent > INT32_MAX || exponent < INT32_MIN || scale > INT32_MAX || scale < INT32_MIN) {
      return 'a zero whose exponent DynamoDB cannot read';
    }
    return undefined;
  }
  if (lastSignificant - firstSignificant + 1 > MAX_SIGNIFICANT_DIGITS) {
    return `more than ${MAX_SIGNIFICANT_DIGITS} significant digits`;
  }
  const scientificExponent = integerDigits - 1 - firstSignificant + exponent;
  if (scientificExponent > MAX_EXPONENT) return 'magnitude above 9.9999999999999999999999999999999999999E+125';
  if (scientificExponent < MIN_EXPONENT) return 'magnitude below 1E-130';
  return undefined;
}
