// How a PostgreSQL column is typed in a Parquet extract, and the exact
// conversions both ways between PostgreSQL's text output (what COPY prints with
// the extract's pinned settings: UTC, ISO dates, hex bytea) and the Parquet
// value. Extract writes `toParquet(text)`; transform reads `toPgText(value)`,
// which must give back the very text COPY printed, so both formats of one
// snapshot transform to the same bytes. Extract checks that round trip on
// every value it writes (see `ParquetColumnWriter`), so no value is changed
// silently.
//
// Values a typed column cannot hold:
// - timestamptz and date ±infinity are stored as the type's reserved
//   extremes, the same sentinels DuckDB uses for its own ±infinity (INT64
//   ±(2^63-1) µs, INT32 ±(2^31-1) days), so DuckDB reads them back as
//   infinity and `toPgText` maps them back exactly. No real PostgreSQL date
//   reaches them; a timestamp so far out that it would (after year 294246) is
//   refused. Spark or Athena show these as far-future/far-past instants, which
//   still compare like infinity.
// - BC dates and timestamps fit (proleptic Gregorian, negative epoch values).
// - numeric NaN (and ±Infinity) have no DECIMAL form: the extract fails,
//   naming table, row and column (a numeric(p,s) NaN is rare; use --format csv).
import type { ColumnSchema } from './manifest.ts';

/** Parquet's physical types (parquet.thrift `Type`). */
export const PhysicalType = { BOOLEAN: 0, INT32: 1, INT64: 2, BYTE_ARRAY: 6, FIXED_LEN_BYTE_ARRAY: 7 } as const;
/** The legacy `ConvertedType` annotations written beside the logical types, for older readers. */
export const ConvertedType = { UTF8: 0, DECIMAL: 5, DATE: 6, TIMESTAMP_MICROS: 10, INT_16: 16 } as const;

export type ParquetKind = 'int16' | 'int32' | 'int64' | 'decimal' | 'timestamptz' | 'date' | 'boolean' | 'bytea' | 'text';

export interface ParquetColumn {
  name: string;
  kind: ParquetKind;
  physical: number;
  /** FIXED_LEN_BYTE_ARRAY only: the width in bytes. */
  width?: number;
  precision?: number;
  scale?: number;
  /** NOT NULL columns are REQUIRED (no definition levels); the rest OPTIONAL. */
  required: boolean;
}

/** A value as written: number (INT32, DATE, BOOLEAN 0/1), bigint (INT64, TIMESTAMP, DECIMAL unscaled) or bytes. */
export type ParquetValue = number | bigint | Buffer;

/** A value the column's Parquet type cannot hold exactly (the message never quotes the value: it may be personal data). */
export class UnrepresentableValue extends Error {}

export const TIMESTAMP_INFINITY = 2n ** 63n - 1n;
export const DATE_INFINITY = 2 ** 31 - 1;
const MICROS_PER_DAY = 86_400_000_000n;
const SAFE_MICROS = BigInt(Number.MAX_SAFE_INTEGER);

/** The Parquet column for a PostgreSQL column (domains are typed by their base type). */
export function parquetColumn(column: ColumnSchema): ParquetColumn {
  const type = column.base_type ?? column.type;
  const base = { name: column.name, required: !column.nullable };
  if (type === 'smallint') return { ...base, kind: 'int16', physical: PhysicalType.INT32 };
  if (type === 'integer') return { ...base, kind: 'int32', physical: PhysicalType.INT32 };
  if (type === 'bigint') return { ...base, kind: 'int64', physical: PhysicalType.INT64 };
  if (type === 'boolean') return { ...base, kind: 'boolean', physical: PhysicalType.BOOLEAN };
  if (type === 'bytea') return { ...base, kind: 'bytea', physical: PhysicalType.BYTE_ARRAY };
  if (type === 'date') return { ...base, kind: 'date', physical: PhysicalType.INT32 };
  if (/^timestamp(\(\d\))? with time zone$/.test(type)) return { ...base, kind: 'timestamptz', physical: PhysicalType.INT64 };
  const numeric = /^numeric\((\d+),(-?\d+)\)$/.exec(type);
  // DECIMAL needs 0 ≤ scale ≤ precision; PostgreSQL 15+ allows scales outside that (kept as text).
  if (numeric && Number(numeric[2]) >= 0 && Number(numeric[2]) <= Number(numeric[1])) {
    const precision = Number(numeric[1]);
    const scale = Number(numeric[2]);
    // The narrowest physical type that holds every unscaled value (what Spark and Athena write).
    if (precision <= 9) return { ...base, kind: 'decimal', physical: PhysicalType.INT32, precision, scale };
    if (precision <= 18) return { ...base, kind: 'decimal', physical: PhysicalType.INT64, precision, scale };
    return { ...base, kind: 'decimal', physical: PhysicalType.FIXED_LEN_BYTE_ARRAY, width: decimalWidth(precision), precision, scale };
  }
  // Unconstrained numeric, jsonb, arrays, enums, uuid, inet, floats, intervals…: PostgreSQL's own text.
  return { ...base, kind: 'text', physical: PhysicalType.BYTE_ARRAY };
}

/** Bytes of a two's-complement integer that holds every `precision`-digit number. */
function decimalWidth(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let width = 1;
  while (2n ** BigInt(8 * width - 1) <= max) width++;
  return width;
}

/** The Parquet value of one non-NULL PostgreSQL text field; throws UnrepresentableValue when there is none. */
export function toParquet(column: ParquetColumn, text: string): ParquetValue {
  switch (column.kind) {
    case 'int16':
    case 'int32': return Number(text);
    case 'int64': return BigInt(text);
    case 'boolean':
      if (text !== 't' && text !== 'f') throw new UnrepresentableValue('a boolean that is neither t nor f');
      return text === 't' ? 1 : 0;
    case 'bytea':
      if (!/^\\x([0-9a-f]{2})*$/.test(text)) throw new UnrepresentableValue('a bytea not in hex output form');
      return Buffer.from(text.slice(2), 'hex');
    case 'text': return Buffer.from(text, 'utf8');
    case 'decimal': return decimalToParquet(column, text);
    case 'date': return dateToParquet(text);
    case 'timestamptz': return timestampToParquet(text);
  }
}

/** PostgreSQL's text output of a Parquet value: the inverse of `toParquet`. */
export function toPgText(column: ParquetColumn, value: ParquetValue): string {
  switch (column.kind) {
    case 'int16':
    case 'int32':
    case 'int64': return String(value);
    case 'boolean': return value ? 't' : 'f';
    case 'bytea': return `\\x${(value as Buffer).toString('hex')}`;
    case 'text': return (value as Buffer).toString('utf8');
    case 'decimal': return decimalText(BigInt(value as number | bigint), column.scale!);
    case 'date': return dateText(value as number);
    case 'timestamptz': return timestampText(value as bigint);
  }
}

function decimalToParquet(column: ParquetColumn, text: string): bigint {
  // numeric(p,s) prints exactly s decimals; NaN and ±Infinity have no DECIMAL form.
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match || (match[3] ?? '').length !== column.scale) throw new UnrepresentableValue(`a numeric (NaN, ±Infinity or not ${column.scale} decimals) that DECIMAL(${column.precision},${column.scale}) cannot hold`);
  const unscaled = BigInt(`${match[1]}${match[2]}${match[3] ?? ''}`);
  if ((unscaled < 0n ? -unscaled : unscaled) >= 10n ** BigInt(column.precision!)) throw new UnrepresentableValue(`a numeric of more than ${column.precision} digits`);
  return unscaled;
}

/** An unscaled DECIMAL as numeric(p,s) prints it: exactly `scale` decimals, a leading 0 before the point. */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const whole = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${whole}` : whole;
}

// Dates: days since 1970-01-01 in the proleptic Gregorian calendar, as
// PostgreSQL counts them (year 1 BC is year 0, 2 BC is -1, …).
const DATE_TEXT = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;

function dateToParquet(text: string): number {
  if (text === 'infinity') return DATE_INFINITY;
  if (text === '-infinity') return -DATE_INFINITY;
  const match = DATE_TEXT.exec(text);
  if (!match) throw new UnrepresentableValue('a date not in ISO output form');
  return daysFromCivil(astronomicalYear(match[1]!, match[4]), Number(match[2]), Number(match[3]));
}

export function dateText(days: number): string {
  if (days === DATE_INFINITY) return 'infinity';
  if (days === -DATE_INFINITY) return '-infinity';
  const { year, month, day } = civilFromDays(days);
  return `${yearText(year)}-${pad2(month)}-${pad2(day)}${year <= 0 ? ' BC' : ''}`;
}

// timestamptz, with TimeZone=UTC: `2024-01-01 12:34:56.123456+00`, fraction
// without trailing zeros (none when whole seconds), ` BC` after the offset.
const TIMESTAMP_TEXT = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\+00( BC)?$/;

function timestampToParquet(text: string): bigint {
  if (text === 'infinity') return TIMESTAMP_INFINITY;
  if (text === '-infinity') return -TIMESTAMP_INFINITY;
  const match = TIMESTAMP_TEXT.exec(text);
  if (!match) throw new UnrepresentableValue('a timestamptz not in ISO UTC output form');
  const days = daysFromCivil(astronomicalYear(match[1]!, match[8]), Number(match[2]), Number(match[3]));
  const seconds = Number(match[4]) * 3600 + Number(match[5]) * 60 + Number(match[6]);
  const micros = BigInt(days) * MICROS_PER_DAY + BigInt(seconds) * 1_000_000n + BigInt((match[7] ?? '').padEnd(6, '0'));
  if (micros >= TIMESTAMP_INFINITY || micros <= -TIMESTAMP_INFINITY) throw new UnrepresentableValue('a timestamptz beyond what TIMESTAMP_MICROS holds');
  return micros;
}

export function timestampText(micros: bigint): string {
  if (micros === TIMESTAMP_INFINITY) return 'infinity';
  if (micros === -TIMESTAMP_INFINITY) return '-infinity';
  let days: number;
  let rest: number;
  if (micros > -SAFE_MICROS && micros < SAFE_MICROS) {
    // Years 1685–2255: exact as a double, and much faster than BigInt division (most timestamps are here).
    const n = Number(micros);
    days = Math.floor(n / 86_400_000_000);
    rest = n - days * 86_400_000_000;
  } else {
    let d = micros / MICROS_PER_DAY;
    let r = micros % MICROS_PER_DAY;
    if (r < 0n) { d -= 1n; r += MICROS_PER_DAY; }
    days = Number(d);
    rest = Number(r);
  }
  const { year, month, day } = civilFromDays(days);
  const seconds = Math.floor(rest / 1_000_000);
  const fraction = rest % 1_000_000;
  const time = `${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}`;
  const frac = fraction === 0 ? '' : `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`;
  return `${yearText(year)}-${pad2(month)}-${pad2(day)} ${time}${frac}+00${year <= 0 ? ' BC' : ''}`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** PostgreSQL prints the era's year (1 BC is year 1), at least four digits. */
const yearText = (year: number) => String(year <= 0 ? 1 - year : year).padStart(4, '0');
const astronomicalYear = (digits: string, bc: string | undefined) => (bc ? 1 - Number(digits) : Number(digits));

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}
