// Issue 20, items 3 and 4: which relations an extract reads, and how it names
// them. A partitioned table is one source table read through its root; an
// inheritance table is read ONLY (its own rows); every relation of the
// selected schemas that is not copied is listed with why; and two tables
// whose names would collide after qualification get distinct names and files.
import test from 'ava';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runExtract } from '../extract/extract.ts';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { runTransform } from '../transform/runner.ts';
import { recordFault } from './fault-table.ts';
import { freshDatabase } from './stack.ts';

const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-extract-sources-'));

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { await client.query(text); } finally { await client.end(); }
}

/** Transforms the run in `store` generically (from its CSV parts, or its Parquet ones) and reads table `name`'s one item. */
async function onlyItem(store: string, name: string, input?: 'parquet'): Promise<{ data: { M: Record<string, unknown> } }> {
  await runTransform({ store, run: 'r', concurrency: 1, gzipLevel: 1, unmapped: 'generic', dropExpired: false, ...(input ? { input } : {}), log: () => {} });
  const { gunzipSync } = await import('node:zlib');
  const { readFile } = await import('node:fs/promises');
  return JSON.parse(gunzipSync(await readFile(path.join(store, 'r', 'items', name, 'part-00000.json.gz'))).toString('utf8')).Item;
}

async function extract(url: string, store: string, schemas: string[], extra: { splitRows?: number; format?: 'csv' | 'parquet' | 'both' } = {}): Promise<{ manifest: ExtractManifest; log: string[] }> {
  const log: string[] = [];
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas, gzipLevel: 1, log: (line) => log.push(line), ...extra });
  return { manifest: (await readExtractManifest(openStorage(store).sub('r')))!, log };
}

const rowsOf = (m: ExtractManifest) => Object.fromEntries(m.tables.map((t) => [t.name, t.rows]));

const PARTITIONS = `CREATE SCHEMA arch;
  CREATE TABLE arch.logs (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE public.logs_2024 PARTITION OF arch.logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE arch.logs_2025 PARTITION OF arch.logs FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  INSERT INTO arch.logs VALUES (1, '2024-02-02'), (2, '2024-03-03'), (3, '2025-04-04');
  CREATE TABLE events (id int, kind text, PRIMARY KEY (id, kind)) PARTITION BY LIST (kind);
  CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');
  CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b');
  INSERT INTO events SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 40) g;
  ANALYZE`;

test('a partition whose root is in another schema is listed as skipped, with why; with that schema, the root is read once', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, PARTITIONS);
  const publicOnly = await extract(url, await tempDir(), ['public']);
  t.deepEqual(rowsOf(publicOnly.manifest), { events: 40 });
  t.deepEqual(publicOnly.manifest.skipped, [
    { name: 'logs_2024', reason: 'partition of arch.logs, which is not in the selected schemas (--schema arch to include it)' },
  ]);
  t.true(publicOnly.log.includes('skipped logs_2024: partition of arch.logs, which is not in the selected schemas (--schema arch to include it)'));

  const both = await extract(url, await tempDir(), ['public', 'arch']);
  t.deepEqual(rowsOf(both.manifest), { 'arch.logs': 3, events: 40 });
  t.is(both.manifest.skipped, undefined, 'nothing skipped, and no empty list in the manifest');
  recordFault(t, {
    fault: 'partition in public of a root in another schema', stage: 'extract',
    outcome: `completed; skipped listed: ${publicOnly.manifest.skipped?.map((s) => `${s.name} (${s.reason})`).join(', ')}; with --schema arch: arch.logs read once through its root`,
    rows_in: both.manifest.tables.reduce((n, e) => n + e.rows, 0),
  });
});

test('a partitioned table is split by its partitions\' row estimates, and its parts cover each row once', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, PARTITIONS);
  const { manifest } = await extract(url, await tempDir(), ['public'], { splitRows: 10 });
  const events = manifest.tables.find((e) => e.name === 'events')!;
  t.true(events.parts.length >= 4, `${events.parts.length} parts`);
  t.is(events.rows, 40);
});

test('inheritance tables are each read ONLY: a child\'s rows are not copied again with its parent\'s, split or not', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, `CREATE TABLE parent (id int PRIMARY KEY, v text);
    CREATE TABLE child (extra text) INHERITS (parent); ALTER TABLE child ADD PRIMARY KEY (id);
    INSERT INTO parent SELECT g, 'p' FROM generate_series(1, 4) g; INSERT INTO child SELECT g, 'c', 'x' FROM generate_series(10, 13) g;
    CREATE SCHEMA other; CREATE TABLE other.grandchild () INHERITS (child); INSERT INTO other.grandchild VALUES (20, 'g', 'z');
    ANALYZE`);
  const whole = await extract(url, await tempDir(), ['public']);
  t.deepEqual(rowsOf(whole.manifest), { child: 4, parent: 4 });
  t.deepEqual(whole.manifest.skipped, [
    { name: 'other.grandchild', reason: 'inherits from child, which is read ONLY (its own rows); its schema is not selected (--schema other to include it)' },
  ]);
  // Range boundaries come from the parent's own rows too: 4 rows, 2 per part.
  const split = await extract(url, await tempDir(), ['public'], { splitRows: 2 });
  t.deepEqual(split.manifest.tables.map((e) => [e.name, e.parts.map((p) => p.rows)]), [['child', [2, 2]], ['parent', [2, 2]]]);
  recordFault(t, {
    fault: 'INHERITS child (and a grandchild in another schema)', stage: 'extract',
    outcome: 'completed; parent read ONLY, each row once; the grandchild listed as skipped',
    rows_in: whole.manifest.tables.reduce((n, e) => n + e.rows, 0), identical: whole.manifest.tables.reduce((n, e) => n + e.rows, 0) === 8,
  });
});

test('public."audit.events" and audit.events get distinct names and files, and transform keeps them apart', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, `CREATE SCHEMA audit; CREATE TABLE audit.events (id int PRIMARY KEY); INSERT INTO audit.events VALUES (1), (2);
    CREATE TABLE "audit.events" (id int PRIMARY KEY); INSERT INTO "audit.events" VALUES (5)`);
  const store = await tempDir();
  const { manifest } = await extract(url, store, ['public', 'audit']);
  t.deepEqual(manifest.tables.map((e) => [e.name, e.schema, e.table, e.rows, e.parts[0]!.key]), [
    ['audit%2Eevents', 'public', 'audit.events', 1, 'extract/audit%252Eevents/part-00000.csv.gz'],
    ['audit.events', 'audit', 'events', 2, 'extract/audit.events/part-00000.csv.gz'],
  ]);
  const transformed = await runTransform({ store, run: 'r', concurrency: 1, gzipLevel: 1, unmapped: 'generic', dropExpired: false, log: () => {} });
  t.deepEqual(transformed.tables.map((e) => [e.name, e.items_out]), [['audit%2Eevents', 1], ['audit.events', 2]]);
  t.is(transformed.duplicates, 0);
  recordFault(t, {
    fault: 'public."audit.events" beside audit.events', stage: 'extract, transform', outcome: 'completed; named audit%2Eevents and audit.events, one file each',
    rows_in: 3, items_out: transformed.tables.reduce((n, e) => n + e.items_out, 0),
  });
});

test('a domain over a domain decodes as the type at the bottom: numeric stays N, jsonb M, timestamptz canonical', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, `CREATE DOMAIN money2 AS numeric(12,2); CREATE DOMAIN price AS money2 CHECK (VALUE >= 0);
    CREATE DOMAIN doc AS jsonb; CREATE DOMAIN strict_doc AS doc;
    CREATE DOMAIN stamp AS timestamptz; CREATE DOMAIN utc_stamp AS stamp;
    CREATE TABLE goods (id int PRIMARY KEY, one money2, two price, d strict_doc, at utc_stamp);
    INSERT INTO goods VALUES (1, 12.5, 12.5, '{"a":[1,true]}', '2024-01-02 03:04:05+00')`);
  const store = await tempDir();
  const { manifest } = await extract(url, store, ['public']);
  const columns = Object.fromEntries(manifest.tables[0]!.columns.map((c) => [c.name, c.base_type]));
  t.deepEqual(columns, { id: undefined, one: 'numeric(12,2)', two: 'numeric(12,2)', d: 'jsonb', at: 'timestamp with time zone' });
  const item = await onlyItem(store, 'goods');
  t.deepEqual(item.data.M, {
    id: { N: '1' }, one: { N: '12.50' }, two: { N: '12.50' }, d: { M: { a: { L: [{ N: '1' }, { BOOL: true }] } } }, at: { S: '2024-01-02T03:04:05.000000Z' },
  });
  recordFault(t, { fault: 'a domain over a domain (numeric, jsonb, timestamptz)', stage: 'extract, transform', outcome: 'decoded as the bottom type', rows_in: 1, items_out: 1 });
});

test('a table of no columns fails the extract by name, saying why, instead of a bare syntax error', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, `CREATE TABLE nothing (); INSERT INTO nothing DEFAULT VALUES; INSERT INTO nothing DEFAULT VALUES; CREATE TABLE fine (id int PRIMARY KEY)`);
  const store = await tempDir();
  await t.throwsAsync(extract(url, store, ['public']), { message: /^table\(s\) nothing have no columns, so their rows cannot be copied: / });
  const { manifest } = await extract(url, await tempDir(), ['public']).catch(() => ({ manifest: undefined }));
  t.is(manifest, undefined);
  recordFault(t, { fault: 'CREATE TABLE nothing () with 2 rows', stage: 'extract', outcome: 'exit 1, the table named, with why' });
});

test('an array of a domain decodes each element as the domain\'s base type: integers N, timestamps canonical', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, `CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN cents AS posint; CREATE DOMAIN stamp AS timestamptz;
    CREATE TABLE bags (id int PRIMARY KEY, counts posint[], deep cents[], at stamp[], plain numeric(6,2)[]);
    INSERT INTO bags VALUES (1, '{1,2}', '{3}', '{"2024-01-02 03:04:05+00"}', '{1.5}')`);
  const store = await tempDir();
  const { manifest } = await extract(url, store, ['public']);
  const elements = Object.fromEntries(manifest.tables[0]!.columns.map((c) => [c.name, c.element_type]));
  t.deepEqual(elements, { id: undefined, counts: 'integer', deep: 'integer', at: 'timestamp with time zone', plain: 'numeric(6,2)' });
  const item = await onlyItem(store, 'bags');
  t.deepEqual(item.data.M, {
    id: { N: '1' }, counts: { L: [{ N: '1' }, { N: '2' }] }, deep: { L: [{ N: '3' }] }, at: { L: [{ S: '2024-01-02T03:04:05.000000Z' }] }, plain: { L: [{ N: '1.50' }] },
  });
  recordFault(t, { fault: 'an array of a domain (integer, timestamptz)', stage: 'extract, transform', outcome: 'elements decoded as the base type', rows_in: 1, items_out: 1 });
});

test('a domain over an array of a domain, and an array of one, decode their elements as the base type, as the array of the domain does', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await sql(url, `CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN posints AS posint[]; CREATE DOMAIN still AS posints;
    CREATE DOMAIN amount AS numeric(6,2); CREATE DOMAIN amounts AS amount[]; CREATE DOMAIN ints AS int[];
    CREATE TABLE sacks (id int PRIMARY KEY, direct posint[], wrapped posints, twice still, money amounts, plain ints, nested posints[]);
    INSERT INTO sacks VALUES (1, '{1,2}', '{1,2}', '{3}', '{1.5}', '{4}', ARRAY['{5,6}'::posints, '{7}'::posints])`);
  const store = await tempDir();
  const { manifest } = await extract(url, store, ['public'], { format: 'both' });
  const elements = Object.fromEntries(manifest.tables[0]!.columns.filter((c) => c.element_type).map((c) => [c.name, [c.element_type, c.element_category]]));
  t.deepEqual(elements, { direct: ['integer', 'N'], wrapped: ['integer', 'N'], twice: ['integer', 'N'], money: ['numeric(6,2)', 'N'], plain: ['integer', 'N'], nested: ['integer[]', 'A'] });
  const item = await onlyItem(store, 'sacks');
  const ns = (...n: string[]) => ({ L: n.map((v) => ({ N: v })) });
  t.deepEqual(item.data.M, { id: { N: '1' }, direct: ns('1', '2'), wrapped: ns('1', '2'), twice: ns('3'), money: ns('1.50'), plain: ns('4'), nested: { L: [ns('5', '6'), ns('7')] } });
  // From the Parquet parts: the same item.
  t.deepEqual(await onlyItem(store, 'sacks', 'parquet'), item);
  recordFault(t, { fault: 'a domain over an array of a domain', stage: 'extract, transform', outcome: 'elements decoded as the base type', rows_in: 1, items_out: 1 });
});
