import test from 'ava';
import type { ColumnSchema } from '../../lib/manifest.ts';
import { type AttributeValue, COLUMN_DEPTH, canonicalTimestamp, decoderFor } from './index.ts';

function column(type: string, category: string, extra: Partial<ColumnSchema> = {}): ColumnSchema {
  return { name: 'c', type, category, nullable: true, ...extra };
}

function decode(col: ColumnSchema, text: string, depth?: number): { value: AttributeValue; warnings: string[] } {
  const warnings: string[] = [];
  const value = decoderFor(col, depth)(text, (reason) => warnings.push(reason));
  return { value, warnings };
}

function map(entries: Record<string, AttributeValue>): { M: Record<string, AttributeValue> } {
  return { M: Object.assign(Object.create(null) as Record<string, AttributeValue>, entries) };
}

// Type names as format_type prints them with search_path=pg_catalog, and their typcategory.
const VERBATIM: [string, string, string][] = [
  ['text', 'S', 'Daniel "Danny" O\'Brien, Jr.\nline two'],
  ['character varying(255)', 'S', 'varchar text'],
  ['character(5)', 'S', 'ab   '],
  ['public.citext', 'S', 'MiXeD'],
  ['"char"', 'Z', 'x'],
  ['name', 'S', 'pg_class'],
  ['public.auth_provider_type', 'E', 'google'],
  ['uuid', 'U', '0b2f6e1c-7d7e-4b55-9c1d-2f1e4d3c2b1a'],
  ['inet', 'I', '192.168.0.1/24'],
  ['cidr', 'I', '10.0.0.0/8'],
  ['macaddr', 'U', '08:00:2b:01:02:03'],
  ['money', 'N', '$1,234.50'],
  ['xml', 'U', '<a>1</a>'],
  ['interval', 'T', 'P5DT3H'],
  ['time without time zone', 'D', '10:00:00.5'],
  ['time(3) with time zone', 'D', '10:00:00.5+05:30'],
  ['date', 'D', '2024-01-02'],
  ['public.address', 'C', '("1 Main St",Springfield)'],
  ['int4range', 'R', '[1,5)'],
  ['tsvector', 'U', "'a' 'b'"],
  ['bit(8)', 'V', '10101010'],
  ['regclass', 'N', 'pg_class'],
  ['int2vector', 'A', '1 2 3'],
  ['oidvector', 'A', '23 25'],
  ['public.some_unknown_type', 'U', 'whatever it prints'],
];

for (const [type, category, text] of VERBATIM) {
  test(`decoderFor: ${type} keeps its text as S`, (t) => {
    t.deepEqual(decode(column(type, category), text), { value: { S: text }, warnings: [] });
  });
}

test('decoderFor: date stays YYYY-MM-DD, not a timestamp', (t) => {
  t.deepEqual(decode(column('date', 'D'), '2024-01-02').value, { S: '2024-01-02' });
});

test('decoderFor: boolean', (t) => {
  t.deepEqual(decode(column('boolean', 'B'), 't').value, { BOOL: true });
  t.deepEqual(decode(column('boolean', 'B'), 'f').value, { BOOL: false });
});

test('decoderFor: smallint, integer, bigint, oid give N with exact digits', (t) => {
  for (const type of ['smallint', 'integer', 'bigint', 'oid']) {
    t.deepEqual(decode(column(type, 'N'), '9007199254740993').value, { N: '9007199254740993' }, type);
  }
});

test('decoderFor: numeric(10,2) keeps PostgreSQL text as N', (t) => {
  t.deepEqual(decode(column('numeric(10,2)', 'N'), '12.50'), { value: { N: '12.50' }, warnings: [] });
  t.deepEqual(decode(column('numeric', 'N'), 'NaN').value, { S: 'NaN' });
});

test('decoderFor: real and double precision give N', (t) => {
  t.deepEqual(decode(column('real', 'N'), '1.5').value, { N: '1.5' });
  t.deepEqual(decode(column('double precision', 'N'), '1e+100').value, { N: '1e+100' });
  t.is(decode(column('double precision', 'N'), 'Infinity').warnings.length, 1);
});

test('decoderFor: timestamptz (with or without precision) is canonical with Z', (t) => {
  t.deepEqual(decode(column('timestamp with time zone', 'D'), '2024-01-02 03:04:05.12+00').value, { S: '2024-01-02T03:04:05.120000Z' });
  t.deepEqual(decode(column('timestamp(3) with time zone', 'D'), '2024-01-02 03:04:05.123+00').value, { S: '2024-01-02T03:04:05.123000Z' });
});

test('decoderFor: timestamp without time zone is canonical without Z', (t) => {
  t.deepEqual(decode(column('timestamp without time zone', 'D'), '2024-01-02 03:04:05').value, { S: '2024-01-02T03:04:05.000000' });
  t.deepEqual(decode(column('timestamp(0) without time zone', 'D'), '2024-01-02 03:04:05').value, { S: '2024-01-02T03:04:05.000000' });
});

test('decoderFor: bytea gives base64 B', (t) => {
  t.deepEqual(decode(column('bytea', 'U'), '\\x0a1b').value, { B: 'Chs=' });
  t.deepEqual(decode(column('bytea', 'U'), '\\x').value, { B: '' });
});

test('decoderFor: json and jsonb give documents', (t) => {
  t.deepEqual(decode(column('jsonb', 'U'), '{"a": [1, true]}').value, map({ a: { L: [{ N: '1' }, { BOOL: true }] } }));
  t.deepEqual(decode(column('json', 'U'), '{"a":1, "a":2}').value, { S: '{"a":1, "a":2}' });
});

test('decoderFor: a column sits at depth 2 unless told otherwise', (t) => {
  t.is(COLUMN_DEPTH, 2);
  const thirty = `${'['.repeat(30)}${']'.repeat(30)}`;
  t.deepEqual(decode(column('jsonb', 'U'), thirty).warnings, []);
  t.is(decode(column('jsonb', 'U'), thirty, 3).warnings.length, 1);
  t.deepEqual(decode(column('jsonb', 'U'), `[${thirty}]`, 1).warnings, []);
});

test('decoderFor: text[] gives an L of S, NULL vs "NULL" kept apart', (t) => {
  const col = column('text[]', 'A', { element_type: 'text', element_category: 'S' });
  t.deepEqual(decode(col, '{a,"",NULL,"NULL"}').value, { L: [{ S: 'a' }, { S: '' }, { NULL: true }, { S: 'NULL' }] });
});

test('decoderFor: integer[] gives an L of N, nested for 2-D', (t) => {
  const col = column('integer[]', 'A', { element_type: 'integer', element_category: 'N' });
  t.deepEqual(decode(col, '{{1,2},{3,4}}').value, {
    L: [{ L: [{ N: '1' }, { N: '2' }] }, { L: [{ N: '3' }, { N: '4' }] }],
  });
});

test('decoderFor: timestamptz(3)[] elements are canonical', (t) => {
  const col = column('timestamp(3) with time zone[]', 'A', { element_type: 'timestamp(3) with time zone', element_category: 'D' });
  t.deepEqual(decode(col, '{"2024-01-02 03:04:05.5+00"}').value, { L: [{ S: '2024-01-02T03:04:05.500000Z' }] });
});

test('decoderFor: jsonb[] elements are documents', (t) => {
  const col = column('jsonb[]', 'A', { element_type: 'jsonb', element_category: 'U' });
  t.deepEqual(decode(col, String.raw`{"{\"a\": 1}"}`).value, { L: [map({ a: { N: '1' } })] });
});

test('decoderFor: an array without element_type uses the name before []', (t) => {
  t.deepEqual(decode(column('bigint[]', 'A'), '{1}').value, { L: [{ N: '1' }] });
});

test('decoderFor: bytea[] elements are B', (t) => {
  const col = column('bytea[]', 'A', { element_type: 'bytea', element_category: 'U' });
  t.deepEqual(decode(col, String.raw`{"\\x0a","\\x"}`).value, { L: [{ B: 'Cg==' }, { B: '' }] });
});

test('decoderFor: enum[] elements are S', (t) => {
  const col = column('public.biometric_type[]', 'A', { element_type: 'public.biometric_type', element_category: 'E' });
  t.deepEqual(decode(col, '{face,voice}').value, { L: [{ S: 'face' }, { S: 'voice' }] });
});

test('decoderFor: a domain decodes as its base type', (t) => {
  const col = column('public.price', 'N', { base_type: 'numeric(10,2)' });
  t.deepEqual(decode(col, '12.50').value, { N: '12.50' });
  const when = column('public.instant', 'D', { base_type: 'timestamp with time zone' });
  t.deepEqual(decode(when, '2024-01-02 03:04:05+00').value, { S: '2024-01-02T03:04:05.000000Z' });
});

test('decoderFor: a domain over an array decodes as that array', (t) => {
  // A manifest from before recorded element_type '-' (a domain has no typelem).
  const col = column('public.scores', 'A', { base_type: 'integer[]', element_type: '-', element_category: 'U' });
  t.deepEqual(decode(col, '{1,2}').value, { L: [{ N: '1' }, { N: '2' }] });
  // A domain over an array of a domain: its elements by the base type extract records.
  const wrapped = column('public.posints', 'A', { base_type: 'public.posint[]', element_type: 'integer', element_category: 'N' });
  t.deepEqual(decode(wrapped, '{1,2}').value, { L: [{ N: '1' }, { N: '2' }] });
});

test('decoderFor: an array of a domain decodes its elements as the base type extract records; a manifest from before (the domain\'s name) keeps them S', (t) => {
  const col = column('public.posint[]', 'A', { element_type: 'integer', element_category: 'N' });
  t.deepEqual(decode(col, '{1,2}').value, { L: [{ N: '1' }, { N: '2' }] });
  const old = column('public.posint[]', 'A', { element_type: 'public.posint', element_category: 'N' });
  t.deepEqual(decode(old, '{1,2}').value, { L: [{ S: '1' }, { S: '2' }] });
});

test('decoderFor: pg_catalog-qualified and internal type names are understood', (t) => {
  t.deepEqual(decode(column('pg_catalog.int8', 'N'), '5').value, { N: '5' });
  t.deepEqual(decode(column('timestamptz', 'D'), '2024-01-02 03:04:05+00').value, { S: '2024-01-02T03:04:05.000000Z' });
  t.deepEqual(decode(column('bool', 'B'), 't').value, { BOOL: true });
});

test('canonicalTimestamp is exported for key templates', (t) => {
  t.is(canonicalTimestamp('2025-01-15 09:30:00.000001+00'), '2025-01-15T09:30:00.000001Z');
});
