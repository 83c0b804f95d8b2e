// The PostgreSQL text ↔ Parquet value conversions, edge by edge: each value
// must read back as the very text COPY printed, and what a type cannot hold
// must be refused, never bent.
import test from 'ava';
import type { ColumnSchema } from './manifest.ts';
import { inputPart, type PartEntry } from './manifest.ts';
import {
  DATE_INFINITY, PhysicalType, TIMESTAMP_INFINITY, UnrepresentableValue, parquetColumn, toParquet, toPgText, type ParquetColumn,
} from './parquet-types.ts';

const column = (type: string, extra: Partial<ColumnSchema> = {}): ParquetColumn =>
  parquetColumn({ name: 'c', type, category: 'X', nullable: true, ...extra });

function roundTrips(t: import('ava').ExecutionContext, type: string, cases: Record<string, [text: string, value: unknown]>): void {
  const c = column(type);
  for (const [name, [text, value]] of Object.entries(cases)) {
    const stored = toParquet(c, text);
    t.deepEqual(stored, value, `${type} ${name}: Parquet value`);
    t.is(toPgText(c, stored), text, `${type} ${name}: reads back as PostgreSQL printed it`);
  }
}

test('PostgreSQL types map to the Parquet types the design names', (t) => {
  const kinds = (type: string, extra?: Partial<ColumnSchema>) => {
    const c = column(type, extra);
    return [c.kind, c.physical, c.precision, c.scale, c.width];
  };
  t.deepEqual(kinds('smallint'), ['int16', PhysicalType.INT32, undefined, undefined, undefined]);
  t.deepEqual(kinds('integer'), ['int32', PhysicalType.INT32, undefined, undefined, undefined]);
  t.deepEqual(kinds('bigint'), ['int64', PhysicalType.INT64, undefined, undefined, undefined]);
  t.deepEqual(kinds('numeric(9,2)'), ['decimal', PhysicalType.INT32, 9, 2, undefined], 'up to 9 digits: INT32');
  t.deepEqual(kinds('numeric(18,0)'), ['decimal', PhysicalType.INT64, 18, 0, undefined], 'up to 18 digits: INT64');
  t.deepEqual(kinds('numeric(19,4)'), ['decimal', PhysicalType.FIXED_LEN_BYTE_ARRAY, 19, 4, 9], 'more: the fewest bytes');
  t.deepEqual(kinds('numeric(38,10)'), ['decimal', PhysicalType.FIXED_LEN_BYTE_ARRAY, 38, 10, 16]);
  t.is(column('numeric').kind, 'text', 'unconstrained numeric has no DECIMAL precision');
  t.is(column('numeric(2,-3)').kind, 'text', 'a negative scale (PostgreSQL 15+) has no DECIMAL form');
  t.is(column('numeric(3,5)').kind, 'text', 'nor a scale above the precision');
  t.is(column('timestamp with time zone').kind, 'timestamptz');
  t.is(column('timestamp(3) with time zone').kind, 'timestamptz');
  t.is(column('timestamp without time zone').kind, 'text', 'a wall-clock time is not an instant');
  t.is(column('date').kind, 'date');
  t.is(column('boolean').kind, 'boolean');
  t.is(column('bytea').kind, 'bytea');
  for (const type of ['jsonb', 'text[]', 'uuid', 'inet', 'interval', 'double precision', 'auth_provider_type', 'character varying(255)']) {
    t.deepEqual(kinds(type).slice(0, 2), ['text', PhysicalType.BYTE_ARRAY], type);
  }
  t.is(column('positive_int', { base_type: 'integer' }).kind, 'int32', 'a domain is typed by its base type');
  t.true(parquetColumn({ name: 'c', type: 'integer', category: 'N', nullable: false }).required, 'NOT NULL is REQUIRED');
});

test('integers at their limits', (t) => {
  roundTrips(t, 'smallint', { min: ['-32768', -32768], max: ['32767', 32767], zero: ['0', 0] });
  roundTrips(t, 'integer', { min: ['-2147483648', -2147483648], max: ['2147483647', 2147483647] });
  roundTrips(t, 'bigint', {
    min: ['-9223372036854775808', -9223372036854775808n],
    max: ['9223372036854775807', 9223372036854775807n],
    'above 2^53': ['9007199254740993', 9007199254740993n],
  });
});

test('numeric(p,s) as DECIMAL: unscaled digits, exactly s decimals back', (t) => {
  roundTrips(t, 'numeric(10,2)', {
    'max of numeric(10,2)': ['99999999.99', 9999999999n],
    'min of numeric(10,2)': ['-99999999.99', -9999999999n],
    zero: ['0.00', 0n],
    'below one': ['0.05', 5n],
    'negative below one': ['-0.05', -5n],
    'trailing zero': ['1234.50', 123450n],
  });
  roundTrips(t, 'numeric(38,10)', {
    '38 digits': ['9999999999999999999999999999.9999999999', 10n ** 38n - 1n],
    '-38 digits': ['-9999999999999999999999999999.9999999999', -(10n ** 38n - 1n)],
  });
  roundTrips(t, 'numeric(5,0)', { 'scale 0': ['-12345', -12345n] });
  const c = column('numeric(6,2)');
  for (const [name, text] of Object.entries({ NaN: 'NaN', Infinity: 'Infinity', '-Infinity': '-Infinity', 'too many digits': '99999.99', 'wrong scale': '1.5' })) {
    t.throws(() => toParquet(c, text), { instanceOf: UnrepresentableValue }, name);
  }
});

test('timestamptz as TIMESTAMP_MICROS: microseconds, BC, and ±infinity as the reserved extremes', (t) => {
  roundTrips(t, 'timestamp with time zone', {
    epoch: ['1970-01-01 00:00:00+00', 0n],
    'microseconds, trailing zeros trimmed as PostgreSQL does': ['2024-01-01 12:34:56.12345+00', 1704112496123450n],
    'one microsecond': ['2024-01-01 12:34:56.000001+00', 1704112496000001n],
    'tenths only': ['2024-01-01 12:34:56.1+00', 1704112496100000n],
    'a microsecond before the epoch': ['1969-12-31 23:59:59.999999+00', -1n],
    'leap day': ['2000-02-29 23:59:59+00', 951868799000000n],
    'not a leap year (1900)': ['1900-03-01 00:00:00+00', -2203891200000000n],
    'year 1 AD': ['0001-01-01 00:00:00+00', -62135596800000000n],
    '1 BC (year 0)': ['0001-12-31 23:59:59.999999+00 BC', -62135596800000001n],
    '44 BC': ['0044-03-15 12:00:00+00 BC', -63517780800000000n],
    'five-digit year': ['10000-01-01 00:00:00+00', 253402300800000000n],
    infinity: ['infinity', TIMESTAMP_INFINITY],
    '-infinity': ['-infinity', -TIMESTAMP_INFINITY],
  });
  const c = column('timestamp with time zone');
  t.throws(() => toParquet(c, '294276-12-31 23:59:59.999999+00'), { instanceOf: UnrepresentableValue }, "PostgreSQL's last instant is past INT64 µs since 1970");
  t.throws(() => toParquet(c, '2024-01-01 12:34:56+02'), { instanceOf: UnrepresentableValue }, 'only UTC output (the pinned TimeZone)');
});

test('date as DATE: days since 1970, BC, ±infinity', (t) => {
  roundTrips(t, 'date', {
    epoch: ['1970-01-01', 0],
    'day before the epoch': ['1969-12-31', -1],
    'leap day 2000': ['2000-02-29', 11016],
    'year 1 AD': ['0001-01-01', -719162],
    '1 BC': ['0001-12-31 BC', -719163],
    "PostgreSQL's first date": ['4714-11-24 BC', -2440588],
    "PostgreSQL's last date": ['5874897-12-31', 2145042905],
    infinity: ['infinity', DATE_INFINITY],
    '-infinity': ['-infinity', -DATE_INFINITY],
  });
});

test('boolean, bytea and text', (t) => {
  roundTrips(t, 'boolean', { true: ['t', 1], false: ['f', 0] });
  roundTrips(t, 'bytea', { empty: ['\\x', Buffer.alloc(0)], bytes: ['\\x00ff7f', Buffer.from([0, 255, 127])] });
  roundTrips(t, 'text', {
    empty: ['', Buffer.alloc(0)],
    'outside the BMP': ['😀 👩‍⚕️', Buffer.from('😀 👩‍⚕️', 'utf8')],
    'jsonb as PostgreSQL prints it': ['{"a": 1, "b": [1.100]}', Buffer.from('{"a": 1, "b": [1.100]}')],
  });
  t.throws(() => toParquet(column('boolean'), 'true'), { instanceOf: UnrepresentableValue });
  t.throws(() => toParquet(column('bytea'), '\\001'), { instanceOf: UnrepresentableValue }, 'escape-format bytea');
});

test('transform reads the file a part is asked for, and refuses one the extract did not write', (t) => {
  const csv: PartEntry = { key: 'extract/t/part-00000.csv.gz', rows: 1, raw_bytes: 1, raw_sha256: 'r', bytes: 10, sha256: 'c' };
  const both: PartEntry = { ...csv, parquet: { key: 'extract/t/part-00000.parquet', bytes: 20, sha256: 'p', row_groups: 1 } };
  t.is(inputPart(both), both, 'by default the part as listed (the CSV)');
  t.is(inputPart(both, 'csv'), both);
  t.like(inputPart(both, 'parquet'), { key: 'extract/t/part-00000.parquet', bytes: 20, sha256: 'p', raw_sha256: 'r' });
  t.throws(() => inputPart(csv, 'parquet'), { message: /has no Parquet file/ });
  const parquetOnly: PartEntry = { ...both.parquet!, rows: 1, raw_bytes: 1, raw_sha256: 'r', parquet: both.parquet };
  t.is(inputPart(parquetOnly, 'parquet'), parquetOnly);
  t.throws(() => inputPart(parquetOnly, 'csv'), { message: /has no CSV file/ });
});
