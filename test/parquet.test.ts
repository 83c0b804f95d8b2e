// The Parquet extract (issue 8) against the local stack: transform makes the
// golden items from it byte for byte, and DuckDB, an independent reader,
// reads every value as PostgreSQL holds it, with the Parquet types the design
// names.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { DuckDBInstance } from '@duckdb/node-api';
import { runExtract } from '../extract/extract.ts';
import { ParquetWriter } from '../extract/parquet-writer.ts';
import { PINNED_SETTINGS } from '../extract/snapshot.ts';
import { readExtractManifest, type ExtractFormat, type ExtractManifest, type TableEntry } from '../lib/manifest.ts';
import { parquetColumn, type ParquetKind } from '../lib/parquet-types.ts';
import { rejectsFileKey } from '../lib/run-layout.ts';
import { openStorage } from '../lib/storage.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { runTransform } from '../transform/runner.ts';
import { readRows } from '../transform/unit.ts';
import { goldenDir, inKeyOrder } from '../scripts/golden.ts';
import { freshBucketPrefix, freshDatabase } from './stack.ts';

const quiet = () => {};
const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-parquet-test-'));

async function extract(databaseUrl: string, store: string, format: ExtractFormat, run = 'r'): Promise<ExtractManifest> {
  await runExtract({ databaseUrl, store, run, concurrency: 2, schemas: ['public'], gzipLevel: 1, format, log: quiet });
  return (await readExtractManifest(openStorage(store).sub(run)))!;
}

/** A connection that reads every value as PostgreSQL's text output, under the extract's session settings. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>, { setup = false } = {}): Promise<T> {
  const client = new pg.Client({ connectionString: url, types: { getTypeParser: () => (value: string) => value } });
  await client.connect();
  try {
    if (!setup) for (const [name, value] of Object.entries(PINNED_SETTINGS)) await client.query(`SET ${name} = '${value}'`);
    return await fn(client);
  } finally {
    await client.end();
  }
}

// ----- Golden items, from CSV and from Parquet of one snapshot -----

async function itemFiles(store: string, run: string, manifest: TransformManifest): Promise<Map<string, string>> {
  const storage = openStorage(store).sub(run);
  const out = new Map<string, string>();
  for (const table of manifest.tables) {
    const texts: string[] = [];
    for (const part of table.parts) {
      const chunks: Buffer[] = [];
      for await (const chunk of await storage.get(part.key)) chunks.push(chunk as Buffer);
      texts.push(gunzipSync(Buffer.concat(chunks)).toString('utf8'));
    }
    out.set(`${table.name}.jsonl`, texts.join(''));
    const rejects = await storage.getText(rejectsFileKey(table.name));
    if (rejects) out.set(`${table.name}.rejects.jsonl`, rejects);
  }
  return out;
}

// The hostile fixture: every hard value and every reject reason, the realistic rows included.
test('golden: the Parquet extract of the hostile fixture database transforms to the committed golden items, byte for byte', async (t) => {
  const url = await freshDatabase(t, { fixture: 'hostile' });
  const store = freshBucketPrefix();
  const extracted = await extract(url, store, 'both');
  t.is(extracted.options.format, 'both');
  for (const table of extracted.tables) {
    for (const part of table.parts) {
      t.regex(part.key, /\/part-\d{5}\.csv\.gz$/, 'with both, the part is its CSV');
      t.regex(part.parquet!.key, /\/part-\d{5}\.parquet$/, '…and Parquet beside it');
      t.true(part.parquet!.row_groups >= 1 || part.rows === 0);
    }
  }
  const transform = (input: 'csv' | 'parquet') => runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, input, log: quiet });
  const fromCsv = await transform('csv');
  const csvItems = await itemFiles(store, 'r', fromCsv);
  const fromParquet = await transform('parquet');
  const parquetItems = await itemFiles(store, 'r', fromParquet);
  t.true(fromParquet.ready_for_load, fromParquet.problems.join('; '));

  // The same item files, to the byte, and the same manifest but for the inputs read.
  t.deepEqual(fromParquet.tables.map((x) => x.parts.map((p) => [p.key, p.sha256, p.bytes])), fromCsv.tables.map((x) => x.parts.map((p) => [p.key, p.sha256, p.bytes])));
  t.deepEqual(fromParquet.totals, fromCsv.totals);
  t.true(fromParquet.tables.every((x) => x.parts.every((p) => p.input.endsWith('.parquet'))), 'the Parquet files were read');
  for (const [file, text] of parquetItems) {
    t.is(csvItems.get(file), text, `${file}: Parquet and CSV give the same bytes`);
    // Golden item files are kept in (PK, SK) order; the item files' own order is checked above (CSV = Parquet, byte for byte).
    const golden = file.endsWith('.rejects.jsonl') ? text : inKeyOrder(text);
    t.is(golden, await readFile(path.join(goldenDir('hostile'), file), 'utf8'), `${file} equals fixtures/hostile/golden/${file}`);
  }
  t.deepEqual([...parquetItems.keys()].sort(), [...csvItems.keys()].sort());

  // With every CSV spoiled (same size, other bytes), the Parquet files serve every read, the joins' (processing_jobs, user_devices) included.
  const storage = openStorage(store).sub('r');
  for (const table of extracted.tables) for (const part of table.parts) await storage.put(part.key, Buffer.alloc(part.bytes, 0x78));
  const parquetOnly = await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, input: 'parquet', force: true, log: quiet });
  t.deepEqual(await itemFiles(store, 'r', parquetOnly), parquetItems);
});

// ----- DuckDB against PostgreSQL -----

/** The Parquet physical / logical type each kind must have, as DuckDB's parquet_schema() names them. */
const EXPECTED_SCHEMA: Record<ParquetKind, (precision?: number, scale?: number) => { type: string; converted: string | null; logical: RegExp | null }> = {
  int16: () => ({ type: 'INT32', converted: 'INT_16', logical: /^IntType\(bitWidth=.*, isSigned=1\)$/ }),
  int32: () => ({ type: 'INT32', converted: null, logical: null }),
  int64: () => ({ type: 'INT64', converted: null, logical: null }),
  decimal: (p, s) => ({ type: p! <= 9 ? 'INT32' : p! <= 18 ? 'INT64' : 'FIXED_LEN_BYTE_ARRAY', converted: 'DECIMAL', logical: new RegExp(`^DecimalType\\(scale=${s}, precision=${p}\\)$`) }),
  timestamptz: () => ({ type: 'INT64', converted: 'TIMESTAMP_MICROS', logical: /^TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\), NANOS=<null>\)\)$/ }),
  date: () => ({ type: 'INT32', converted: 'DATE', logical: /^DateType\(\)$/ }),
  boolean: () => ({ type: 'BOOLEAN', converted: null, logical: null }),
  bytea: () => ({ type: 'BYTE_ARRAY', converted: null, logical: null }),
  text: () => ({ type: 'BYTE_ARRAY', converted: 'UTF8', logical: /^StringType\(\)$/ }),
};

const pgIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const duckString = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * One value in a form both readers can print without interpretation:
 * integers and decimals as digits, instants as epoch microseconds, dates as
 * days since 1970, ±infinity by name, bytes as hex, text as PostgreSQL output.
 */
function pgCanonical(kind: ParquetKind, q: string): string {
  switch (kind) {
    case 'text': return q;
    case 'boolean': return `CASE WHEN ${q} THEN 'true' WHEN NOT ${q} THEN 'false' END`;
    case 'bytea': return `encode(${q}, 'hex')`;
    case 'timestamptz': return `CASE WHEN isfinite(${q}) THEN (extract(epoch FROM ${q}) * 1000000)::bigint::text ELSE ${q}::text END`;
    case 'date': return `CASE WHEN isfinite(${q}) THEN (${q} - DATE '1970-01-01')::text ELSE ${q}::text END`;
    default: return `${q}::text`;
  }
}

function duckCanonical(kind: ParquetKind, q: string): string {
  switch (kind) {
    case 'text': return q;
    case 'bytea': return `lower(hex(${q}))`;
    case 'timestamptz': return `CASE WHEN isfinite(${q}) THEN epoch_us(${q})::VARCHAR ELSE ${q}::VARCHAR END`;
    case 'date': return `CASE WHEN isfinite(${q}) THEN (${q} - DATE '1970-01-01')::VARCHAR ELSE ${q}::VARCHAR END`;
    default: return `${q}::VARCHAR`;
  }
}

/** Compares every value of `table` as DuckDB reads its Parquet files with PostgreSQL's, row by primary key; returns the values compared. */
async function compareWithDuckDb(t: import('ava').ExecutionContext, url: string, store: string, run: string, table: TableEntry): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:');
  const duck = await instance.connect();
  const files = table.parts.map((p) => duckString(path.join(store, run, p.parquet!.key)));
  const kinds = table.columns.map((c) => parquetColumn(c));

  // The schema: the physical and logical types the design lists, in column order.
  const schema = (await duck.runAndReadAll(`SELECT name, type, converted_type, logical_type FROM parquet_schema(${files[0]}) WHERE name <> 'schema'`)).getRows();
  t.deepEqual(schema.map((r) => r[0]), table.columns.map((c) => c.name), `${table.name}: columns in order`);
  for (const [i, column] of kinds.entries()) {
    const want = EXPECTED_SCHEMA[column.kind](column.precision, column.scale);
    const [, type, converted, logical] = schema[i]!;
    t.is(type, want.type, `${table.name}.${column.name} (${table.columns[i]!.type}): physical type`);
    t.is(converted ?? null, want.converted, `${table.name}.${column.name}: converted type`);
    if (want.logical) t.regex(String(logical), want.logical, `${table.name}.${column.name}: logical type`);
    else t.is(logical ?? null, null, `${table.name}.${column.name}: no logical type`);
  }

  const keys = table.primary_key.map((k) => table.columns.findIndex((c) => c.name === k));
  const duckRows = (await duck.runAndReadAll(
    `SELECT ${kinds.map((c) => duckCanonical(c.kind, pgIdent(c.name))).join(', ')} FROM read_parquet([${files.join(', ')}])`,
  )).getRows().map((r) => r.map((v) => (v === null ? null : String(v))));
  const pgRows = await withClient(url, async (c) => (await c.query({
    text: `SELECT ${kinds.map((k) => pgCanonical(k.kind, pgIdent(k.name))).join(', ')} FROM ${pgIdent(table.schema)}.${pgIdent(table.table)}`,
    rowMode: 'array',
  })).rows as (string | null)[][]);
  t.is(duckRows.length, pgRows.length, `${table.name}: rows`);
  const keyOf = (row: (string | null)[]) => JSON.stringify(keys.map((k) => row[k]));
  const byKey = new Map(pgRows.map((row) => [keyOf(row), row]));
  let compared = 0;
  for (const row of duckRows) {
    const want = byKey.get(keyOf(row));
    if (!want) { t.fail(`${table.name}: DuckDB reads a row PostgreSQL does not hold (${keyOf(row)})`); continue; }
    for (const [i, column] of kinds.entries()) {
      // Only the first difference per column would say anything new; keep the report short.
      if (row[i] !== want[i]) t.fail(`${table.name}.${column.name} at key ${keyOf(row)}: DuckDB ${JSON.stringify(row[i])}, PostgreSQL ${JSON.stringify(want[i])}`);
      compared++;
    }
  }
  duck.closeSync();
  instance.closeSync();
  return compared;
}

test('DuckDB reads every fixture value of the Parquet extract as PostgreSQL holds it, with the design\'s Parquet types', async (t) => {
  const url = await freshDatabase(t, { fixture: 'hostile' });
  const store = await tempDir();
  const manifest = await extract(url, store, 'parquet');
  t.is(manifest.options.format, 'parquet');
  let values = 0;
  for (const table of manifest.tables) {
    for (const part of table.parts) {
      t.regex(part.key, /\.parquet$/, 'Parquet alone: the part is the Parquet file');
      t.is(part.parquet!.key, part.key);
      t.is(part.parquet!.sha256, part.sha256);
    }
    values += await compareWithDuckDb(t, url, store, 'r', table);
  }
  t.is(values, manifest.tables.reduce((n, x) => n + x.rows * x.columns.length, 0), 'every value of every row was compared');

  // The hard cases are there and were compared (not skipped as NULL).
  const kindsSeen = new Set(manifest.tables.flatMap((x) => x.columns.map((c) => parquetColumn(c).kind)));
  t.deepEqual([...kindsSeen].sort(), ['boolean', 'date', 'decimal', 'int32', 'int64', 'text', 'timestamptz']);

  // A truncated Parquet file is refused by name before any stage reads it.
  const part = manifest.tables[0]!.parts[0]!;
  await truncate(path.join(store, 'r', part.key), part.bytes - 1);
  await t.throwsAsync(readExtractManifest(openStorage(store).sub('r')), { message: new RegExp(`${part.key.replace(/[.]/g, '\\.')} .*bytes where the extract manifest says ${part.bytes}`) });
});

// ----- Every mapped type at its edges, beyond what the fixture holds -----

const EDGE_SQL = `
  CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
  CREATE TYPE mood AS ENUM ('happy', 'sad');
  CREATE TABLE nothing_yet (id integer PRIMARY KEY, at timestamptz);
  CREATE TABLE edge (
    id integer PRIMARY KEY, i2 smallint, i8 bigint, n92 numeric(9,2), n180 numeric(18,0), n3810 numeric(38,10),
    n numeric, ts timestamptz, ts3 timestamptz(3), d date, b boolean, raw bytea, j jsonb, arr text[], u uuid, ip inet,
    iv interval, f8 float8, wall timestamp, m mood, p positive_int, t text NOT NULL
  );
  INSERT INTO edge VALUES
    (1, -32768, -9223372036854775808, -9999999.99, -999999999999999999, -9999999999999999999999999999.9999999999,
     'NaN', '4713-01-01 00:00:00+00 BC', '2024-01-01 12:34:56.789+00', '4713-01-01 BC', true, '\\x', '{"n": 1.100, "big": 123456789012345678901234567890}',
     ARRAY['a,b', NULL, '"q"', ''], '00000000-0000-0000-0000-000000000000', '10.1.2.3/8', 'P1Y2M3DT4H5M6.000007S', 'NaN', '0001-01-01 00:00:00 BC', 'happy', 1, ''),
    (2, 32767, 9223372036854775807, 9999999.99, 999999999999999999, 9999999999999999999999999999.9999999999,
     '-123456789012345678901234567890.000000000000000000001', '294246-12-31 23:59:59.999999+00', 'infinity', '5874897-12-31', false, '\\x00ff',
     '[]', '{}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2001:0db8:0000:0000:0000:ff00:0042:8329', '-1 day', '-0', 'infinity', 'sad', 2147483647, '😀 👩‍⚕️ Zoë'),
    (3, 0, 0, 0, 0, 0, 0, '1969-12-31 23:59:59.999999+00', '-infinity', '-infinity', NULL, '\\xdeadbeef', 'null', NULL, NULL, '::1', '0', '1e-310', NULL, NULL, NULL, 'NULL'),
    (4, NULL, NULL, 0.01, NULL, 0.0000000001, NULL, '2000-02-29 00:00:00.000001+00', NULL, '2000-02-29', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', NULL, NULL, NULL, 'a
b,"c"'),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL, 'infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '\\N');
`;

test('every mapped type at its edges: Parquet reads back as the CSV\'s text, and DuckDB agrees with PostgreSQL', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await withClient(url, (c) => c.query(EDGE_SQL), { setup: true });
  const store = await tempDir();
  const manifest = await extract(url, store, 'both');
  const [table, empty] = manifest.tables;
  const run = openStorage(store).sub('r');
  const read = async (input: 'csv' | 'parquet') => {
    const rows: unknown[] = [];
    const part = input === 'csv' ? table!.parts[0]! : { ...table!.parts[0]!, ...table!.parts[0]!.parquet! };
    await readRows(run, 'edge', part, (row, n) => rows.push([n, ...row]));
    return rows;
  };
  const csv = await read('csv');
  t.is(csv.length, 5);
  t.deepEqual(await read('parquet'), csv, 'the Parquet part reads as the very fields COPY printed');
  t.true(await compareWithDuckDb(t, url, store, 'r', table!) > 100);

  // An empty table: a Parquet file with its schema and no row group.
  t.like(empty, { name: 'nothing_yet', rows: 0 });
  t.is(empty!.parts[0]!.parquet!.row_groups, 0);
  t.is(await readRows(run, 'nothing_yet', { ...empty!.parts[0]!, ...empty!.parts[0]!.parquet! }, () => t.fail()), 0);
  t.is(await compareWithDuckDb(t, url, store, 'r', empty!), 0);
});

test('a value its Parquet type cannot hold fails the extract, naming table, row and column (never the value)', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await withClient(url, (c) => c.query(`
    CREATE TABLE prices (id integer PRIMARY KEY, amount numeric(6,2));
    INSERT INTO prices VALUES (1, 12.50), (2, 'NaN'), (3, 1)`), { setup: true });
  const store = await tempDir();
  const err = await t.throwsAsync(extract(url, store, 'parquet'));
  t.regex(err!.message, /table prices: row 2, column amount: a numeric \(NaN, ±Infinity or not 2 decimals\) that DECIMAL\(6,2\) cannot hold/);
  t.notRegex(err!.message, /NaN'|12\.50/);
  t.is(await openStorage(store).sub('r').getText('extract/manifest.json'), undefined, 'no manifest claims the table');
  t.is((await extract(url, store, 'csv')).tables[0]!.rows, 3, 'CSV holds it');
});

// ----- Many row groups and pages (the fixture fits in one of each) -----

test('many row groups and data pages read back in order, by transform\'s reader and by DuckDB', async (t) => {
  const columns = [
    { name: 'id', type: 'integer', category: 'N', nullable: false },
    { name: 'at', type: 'timestamp with time zone', category: 'D', nullable: true },
    { name: 'note', type: 'text', category: 'S', nullable: true },
    { name: 'ok', type: 'boolean', category: 'B', nullable: true },
    { name: 'amount', type: 'numeric(12,3)', category: 'N', nullable: true },
  ];
  const rows = Array.from({ length: 20_000 }, (_, i): (string | null)[] => [
    String(i + 1),
    i % 7 === 0 ? null : `2024-01-${String(1 + (i % 28)).padStart(2, '0')} 00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0').slice(-6)}+00`.replace(/\.?0+\+00$/, '+00'),
    i % 5 === 0 ? null : `${i} ${'é😀x'.repeat(70)}`,
    i % 3 === 0 ? null : i % 2 === 0 ? 't' : 'f',
    i % 4 === 0 ? null : `${i % 2 ? '-' : ''}${i}.${String(i % 1000).padStart(3, '0')}`,
  ]);
  // 3 MiB of text per row group: about 2 row groups, the note column in several 1 MiB pages each.
  const chunks: Buffer[] = [];
  const writer = new ParquetWriter(columns.map((c) => parquetColumn(c)), { compression: 'gzip', rowGroupBytes: 3 * 1024 * 1024 }, (b) => chunks.push(b));
  for (const row of rows) writer.addRow(row);
  writer.finish();
  t.true(writer.rowGroupCount >= 2, `${writer.rowGroupCount} row groups`);
  const file = Buffer.concat(chunks);
  const dir = await tempDir();
  await writeFile(path.join(dir, 'many.parquet'), file);

  const read: (string | null)[][] = [];
  const part = { key: 'many.parquet', rows: rows.length, raw_bytes: 0, raw_sha256: '', bytes: file.length, sha256: createHash('sha256').update(file).digest('hex') };
  await readRows(openStorage(dir), 'many', part, (row, n) => { t.is(n, read.length + 1); read.push(row); });
  t.deepEqual(read, rows, 'every field, in order');

  const instance = await DuckDBInstance.create(':memory:');
  const duck = await instance.connect();
  const at = duckString(path.join(dir, 'many.parquet'));
  const pages = (await duck.runAndReadAll(`SELECT count(DISTINCT row_group_id), max(total_uncompressed_size) FROM parquet_metadata(${at}) WHERE path_in_schema = 'note'`)).getRows()[0]!;
  t.is(Number(pages[0]), writer.rowGroupCount);
  t.true(Number(pages[1]) > 2 * 1024 * 1024, 'a note chunk spans several 1 MiB pages');
  const back = (await duck.runAndReadAll(`SELECT id::VARCHAR, note, amount::VARCHAR, ok::VARCHAR FROM read_parquet(${at}, file_row_number = true) ORDER BY file_row_number`)).getRows();
  t.deepEqual(back.map((r) => r[0]), rows.map((r) => r[0]), 'DuckDB: the same ids in the same order');
  t.deepEqual(back.map((r) => r[1]), rows.map((r) => r[2]), 'DuckDB: the same text');
  t.deepEqual(back.map((r) => r[2]), rows.map((r) => r[4]), 'DuckDB: the same decimals');
  t.deepEqual(back.map((r) => (r[3] === null ? null : r[3] === 'true' ? 't' : 'f')), rows.map((r) => r[3]), 'DuckDB: the same booleans');
  duck.closeSync();
  instance.closeSync();
});
