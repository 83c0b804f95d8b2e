// timestamptz and timestamp become one canonical, fixed-width text,
// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (timestamp: no `Z`), so that text order is
// time order down to the microsecond, in keys and in `data` alike.
//
// PostgreSQL (TimeZone=UTC, DateStyle=ISO) prints `2024-01-02 03:04:05+00`,
// with `.f` to `.ffffff` when the fraction is not zero (trailing zeros
// dropped). Values the canonical form cannot order stay exactly as printed:
// `infinity`, `-infinity`, BC dates (`0044-03-15 00:00:00+00 BC`) and years
// past 9999 (`12024-01-02 03:04:05+00`).
import type { AttributeValue } from '../attribute.ts';

const FRACTION_PAD = ['000000', '00000', '0000', '000', '00', '0', ''];

/**
 * The canonical text of a timestamptz (`…+00` → `…Z`) or timestamp (no zone
 * → no `Z`) as PostgreSQL printed it; infinities, BC and 5-digit years are
 * returned unchanged. Throws on anything else, including a zone other than
 * UTC (the extract pins TimeZone=UTC, so another offset means it did not).
 */
export function canonicalTimestamp(text: string): string {
  const zoned = text.indexOf('+', 19) >= 0 || text.indexOf('-', 19) >= 0;
  return canonicalize(text, zoned ? 'Z' : '');
}

export function decodeTimestamptz(text: string): AttributeValue {
  return { S: canonicalize(text, 'Z') };
}

export function decodeTimestamp(text: string): AttributeValue {
  return { S: canonicalize(text, '') };
}

/** `zone` is `Z` when the text must end in PostgreSQL's `+00`, `` when it must have no zone. */
function canonicalize(text: string, zone: 'Z' | ''): string {
  if (!isCanonicalizable(text)) return text;
  // Positions are fixed from here: YYYY-MM-DD HH:MM:SS at 0..18.
  if (
    !digits(text, 0, 4) || text.charCodeAt(4) !== 45 || !digits(text, 5, 7) || text.charCodeAt(7) !== 45 ||
    !digits(text, 8, 10) || text.charCodeAt(10) !== 32 || !digits(text, 11, 13) || text.charCodeAt(13) !== 58 ||
    !digits(text, 14, 16) || text.charCodeAt(16) !== 58 || !digits(text, 17, 19)
  ) {
    throw new Error(`timestamp: unexpected text ${JSON.stringify(text)} (expected ISO DateStyle output)`);
  }
  const zoneStart = zone === 'Z' ? text.length - 3 : text.length;
  if (zone === 'Z' && text.slice(zoneStart) !== '+00') {
    throw new Error(`timestamptz: ${JSON.stringify(text)} is not in UTC (the extract must run with TimeZone=UTC)`);
  }
  let fraction = '';
  if (zoneStart > 19) {
    fraction = text.slice(20, zoneStart);
    if (text.charCodeAt(19) !== 46 || fraction.length === 0 || fraction.length > 6 || !digits(text, 20, zoneStart)) {
      throw new Error(`timestamp: unexpected text ${JSON.stringify(text)} (expected ISO DateStyle output)`);
    }
  }
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction}${FRACTION_PAD[fraction.length]}${zone}`;
}

/** False for the values kept as printed: infinities, BC dates, years past 9999. */
function isCanonicalizable(text: string): boolean {
  if (text === 'infinity' || text === '-infinity') return false;
  if (text.endsWith(' BC')) return false;
  const c = text.charCodeAt(4);
  return !(c >= 48 && c <= 57 && digits(text, 0, 4)); // a fifth year digit
}

function digits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Seconds since the Unix epoch of a UTC calendar instant, as Date.UTC gives
 * them but for years 0–99 too: Date.UTC reads those as 1900–1999, which put a
 * ttl of year 0050 in 1950.
 */
export function utcSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
  // setUTCFullYear takes the year as given; each field overflows into the next as in Date.UTC.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.setUTCHours(hour, minute, second) / 1000;
}
