// Issue 20, item 1: DDL that is not MVCC-safe (TRUNCATE, table-rewriting
// ALTER TABLE) while an extract runs. The snapshot's transaction locks every
// table it copies, so such DDL waits; a table changed in the instant before
// the lock, or one a worker would have to wait for, fails the run by name.
// No table is ever copied empty with `consistent: true`.
import test, { type ExecutionContext } from 'ava';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { listSourceTables } from '../extract/catalog.ts';
import { holdSnapshot } from '../extract/extract.ts';
import { exportSnapshot, joinSnapshot } from '../extract/snapshot.ts';
import { checkTypes, lockForCopy, lockSnapshotTables } from '../extract/table-locks.ts';

import { openStorage } from '../lib/storage.ts';
import { runCli, type CliResult } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
import { freshDatabase } from './stack.ts';
import { EXTRACT_MANIFEST_KEY } from '../lib/run-layout.ts';

const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-faults-ddl-'));

async function session(t: { teardown(fn: () => unknown): void }, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.on('error', () => {});
  t.teardown(() => client.end().catch(() => {}));
  return client;
}

/** aaa_slow sorts first (largest first) and takes seconds to copy; zz_small is what the DDL hits. */
async function addTables(url: string, slowRows: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE aaa_slow AS SELECT g AS id, repeat(md5(g::text), 6) AS pad FROM generate_series(1, ${slowRows}) g;
                        ALTER TABLE aaa_slow ADD PRIMARY KEY (id);
                        CREATE TABLE zz_small (id int PRIMARY KEY); INSERT INTO zz_small SELECT generate_series(1, 1000); ANALYZE`);
  } finally {
    await client.end();
  }
}

/** Polls `sql` (one boolean column `ok`) until it holds; fails at once, with its stderr, if the extract ends first. */
async function until(client: pg.Client, sql: string, what: string, extracting: Promise<CliResult>, timeoutMs = 90_000): Promise<void> {
  let ended: CliResult | undefined;
  void extracting.then((r) => { ended = r; });
  const deadline = Date.now() + timeoutMs;
  while (!(await client.query<{ ok: boolean }>(sql)).rows[0]?.ok) {
    if (ended) throw new Error(`the extract ended (exit ${ended.code}: ${ended.stderr.trim()}) before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const extractWaitsForLock = `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                               AND application_name = 'pg2ddb-extract' AND wait_event_type = 'Lock') AS ok`;

/**
 * An extract whose snapshot is taken while `ddlSql` is uncommitted (so it sees the tables as they were), with
 * `ddlSql` committed once the extract's lock waits for it: the instant between the snapshot and the lock.
 */
async function extractAcrossDdl(t: ExecutionContext, url: string, ddlSql: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  const ddl = await session(t, url);
  await ddl.query(`BEGIN; ${ddlSql}`);
  const extracting = runCli('extract/cli.ts', ['--quiet'], env);
  const watcher = await session(t, url);
  await until(watcher, extractWaitsForLock, "the extract's lock to wait", extracting);
  await ddl.query('COMMIT');
  return extracting;
}

async function noManifest(store: string): Promise<boolean> {
  return !(await openStorage(store).sub('r').list('')).some((o) => o.key === EXTRACT_MANIFEST_KEY);
}

test('a TRUNCATE while extract runs waits for the snapshot\'s lock, and the table it queued on fails the run by name instead of being copied empty', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 400_000);
  const store = await tempDir();
  const extracting = runCli('extract/cli.ts', ['--quiet', '--concurrency', '1', '--split-rows', '10000000', '--split-bytes', '0'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  const watcher = await session(t, url);
  await until(watcher, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY%aaa_slow%') AS ok`, 'the COPY of aaa_slow', extracting);

  const ddl = await session(t, url);
  const truncating = ddl.query('TRUNCATE zz_small');
  // The TRUNCATE waits, and what it waits for is the extract's snapshot transaction (its coordinator).
  await until(watcher, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity a, pg_stat_activity b
                          WHERE a.datname = current_database() AND a.query = 'TRUNCATE zz_small' AND a.wait_event_type = 'Lock'
                            AND b.pid = ANY (pg_blocking_pids(a.pid)) AND b.application_name = 'pg2ddb-extract') AS ok`, 'the TRUNCATE to wait for the extract', extracting);
  const result = await extracting;
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /^extract: error: table zz_small: another session is waiting to change it \(TRUNCATE, .*\) behind this extract's lock, .*; let that session finish or cancel it \(pg_locks shows its pid\), then rerun the extract\n$/);
  t.true(await noManifest(store), 'no manifest');
  // Once the extract has released its lock, the TRUNCATE goes through.
  await truncating;
  t.is(Number((await watcher.query('SELECT count(*) AS n FROM zz_small')).rows[0].n), 0);
  recordFault(t, { fault: 'TRUNCATE of a table while extract runs', stage: 'extract', outcome: exitOutcome(result) });
});

test('a table truncated between the snapshot and its lock fails the run by name; it is never copied empty', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 10);
  const store = await tempDir();
  // Uncommitted, so the snapshot still sees zz_small's rows; its lock then waits for this transaction.
  const result = await extractAcrossDdl(t, url, 'TRUNCATE zz_small', { DATABASE_URL: url, STORE: store, RUN: 'r' });
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /^extract: error: table\(s\) zz_small were truncated or rewritten \(TRUNCATE, ALTER TABLE, VACUUM FULL, CLUSTER\) after the extract's snapshot was taken, .*; rerun the extract/);
  t.true(await noManifest(store), 'no manifest');
  const rerun = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  t.is(rerun.code, 0, rerun.stderr);
  recordFault(t, { fault: 'TRUNCATE committed between snapshot and lock', stage: 'extract', outcome: `${exitOutcome(result)}; rerun ${exitOutcome(rerun)}` });
});

test('a lock another session holds fails the extract after --lock-wait-timeout, naming the table, instead of hanging', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 10);
  const store = await tempDir();
  const ddl = await session(t, url);
  await ddl.query('BEGIN; LOCK TABLE zz_small IN ACCESS EXCLUSIVE MODE');
  const started = Date.now();
  const result = await runCli('extract/cli.ts', ['--quiet', '--lock-wait-timeout', '1'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  await ddl.query('ROLLBACK');
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /^extract: error: table zz_small: another session has held a lock that blocks reading it \(.*\) for more than 1 s; .* or wait longer with --lock-wait-timeout, then rerun the extract\n$/);
  t.true(Date.now() - started < 60_000);
  t.true(await noManifest(store), 'no manifest');
});

test('a worker refuses, by name, a table whose storage changed after the snapshot it joined', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 10);
  // A snapshot without the extract's locks: the instant before they are taken.
  const snapshot = await exportSnapshot(url);
  t.teardown(() => snapshot.close());
  const ddl = await session(t, url);
  await ddl.query('TRUNCATE zz_small');
  const worker = await joinSnapshot(url, snapshot.id);
  t.teardown(() => worker.end());
  const tables = await listSourceTables(worker, ['public']);
  await lockForCopy(worker, tables.find((s) => s.name === 'aaa_slow')!);
  await t.throwsAsync(lockForCopy(worker, tables.find((s) => s.name === 'zz_small')!), { message: /^table\(s\) zz_small were truncated or rewritten/ });
});

test('the coordinator of a sharded extract holds its tables\' locks until it is stopped', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 10);
  const store = await tempDir();
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  let ready!: () => void;
  const planned = new Promise<void>((resolve) => { ready = resolve; });
  const holding = holdSnapshot({ databaseUrl: url, store, run: 'r', concurrency: 1, schemas: ['public'], gzipLevel: 1, log: () => {} }, () => ready(), stopped);
  await Promise.race([planned, holding]);
  const ddl = await session(t, url);
  await ddl.query(`SET lock_timeout = '300ms'`);
  await t.throwsAsync(ddl.query('ALTER TABLE zz_small ALTER id TYPE bigint'), { message: /lock timeout/ });
  stop();
  await holding;
  await ddl.query('ALTER TABLE zz_small ALTER id TYPE bigint');
  t.pass();
});

test('a partition detached or dropped between the snapshot and its lock fails the run by name; its rows are never left out silently', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  await setup.query(`CREATE TABLE pt (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
                     CREATE TABLE pt_low PARTITION OF pt FOR VALUES FROM (1) TO (100);
                     CREATE TABLE pt_high PARTITION OF pt FOR VALUES FROM (100) TO (1000);
                     INSERT INTO pt SELECT g, 'v' || g FROM generate_series(1, 199) g; ANALYZE`);
  const outcomes: string[] = [];
  for (const ddlSql of ['ALTER TABLE pt DETACH PARTITION pt_high', 'DROP TABLE pt_high']) {
    const store = await tempDir();
    // Uncommitted, so the snapshot still sees pt_high in pt; the extract's lock on pt then waits for this transaction.
    const result = await extractAcrossDdl(t, url, ddlSql, { DATABASE_URL: url, STORE: store, RUN: 'r' });
    const manifest = await openStorage(store).sub('r').getText(EXTRACT_MANIFEST_KEY);
    const rows = manifest ? (JSON.parse(manifest) as { tables: { name: string; rows: number }[] }).tables.find((x) => x.name === 'pt')?.rows : undefined;
    t.is(result.code, 1, `${ddlSql}: exit ${result.code}, pt copied with ${rows} of its snapshot's 199 rows`);
    t.regex(result.stderr, /^extract: error: table\(s\) pt had partitions attached, detached or dropped after the extract's snapshot was taken, .*; rerun the extract/, ddlSql);
    t.true(await noManifest(store), `${ddlSql}: no manifest`);
    outcomes.push(`${ddlSql}: ${exitOutcome(result)}`);
    // Put the partition back for the next case.
    if (ddlSql.startsWith('ALTER')) await setup.query(`DROP TABLE pt_high`);
    await setup.query(`CREATE TABLE pt_high PARTITION OF pt FOR VALUES FROM (100) TO (1000); INSERT INTO pt SELECT g, 'v' || g FROM generate_series(100, 199) g`);
  }
  recordFault(t, { fault: 'DETACH PARTITION / DROP of a partition committed between snapshot and lock', stage: 'extract', outcome: outcomes.join('; ') });
});

test('columns renamed into each other\'s names, dropped and added again, or retyped without a rewrite between the snapshot and its lock fail the run by name; values never move between columns silently', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  await setup.query(`CREATE TABLE cols (id int PRIMARY KEY, a text, b text, at timestamp);
                     INSERT INTO cols SELECT g, 'a' || g, 'b' || g, '2026-01-01'::timestamp + g * interval '1 hour' FROM generate_series(1, 10) g; ANALYZE`);
  const outcomes: string[] = [];
  for (const ddlSql of [
    'ALTER TABLE cols RENAME a TO tmp; ALTER TABLE cols RENAME b TO a; ALTER TABLE cols RENAME tmp TO b',
    'ALTER TABLE cols DROP COLUMN b; ALTER TABLE cols ADD COLUMN b text',
    // Without a rewrite in UTC (PostgreSQL 12+), so the storage check passes; COPY's text gains "+00".
    "SET LOCAL timezone = 'UTC'; ALTER TABLE cols ALTER at TYPE timestamptz",
  ]) {
    const store = await tempDir();
    // Uncommitted, so the snapshot still sees the old columns; the extract's lock on cols then waits for this transaction.
    const result = await extractAcrossDdl(t, url, ddlSql, { DATABASE_URL: url, STORE: store, RUN: 'r' });
    t.is(result.code, 1, `${ddlSql}: exit ${result.code}`);
    t.regex(result.stderr, /^extract: error: table cols had columns renamed, dropped, added or changed in type or generation expression after the extract's snapshot was taken, .*; rerun the extract/, ddlSql);
    t.true(await noManifest(store), `${ddlSql}: no manifest`);
    outcomes.push(`${ddlSql.split(';')[0]}…: ${exitOutcome(result)}`);
    // A rerun takes the columns as they now are.
    const rerun = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
    t.is(rerun.code, 0, rerun.stderr);
  }
  recordFault(t, { fault: 'columns renamed, dropped and added, or retyped between snapshot and lock', stage: 'extract', outcome: outcomes.join('; ') });
});

test('a virtual generated column\'s expression changed between the snapshot and its lock fails the run by name; its values are never computed with an expression the snapshot did not have', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  if (Number((await setup.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) < 180000) {
    t.pass('virtual generated columns are PostgreSQL 18+');
    return;
  }
  await setup.query(`CREATE TABLE gen (id int PRIMARY KEY, twice int GENERATED ALWAYS AS (id * 2) VIRTUAL, stored int GENERATED ALWAYS AS (id * 3) STORED);
                     INSERT INTO gen (id) SELECT generate_series(1, 10); ANALYZE`);
  const store = await tempDir();
  // SET EXPRESSION rewrites nothing for a virtual column (the storage check passes), and keeps its name, attnum and type.
  const result = await extractAcrossDdl(t, url, 'ALTER TABLE gen ALTER twice SET EXPRESSION AS (id * 100)', { DATABASE_URL: url, STORE: store, RUN: 'r' });
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /^extract: error: table gen had columns renamed, dropped, added or changed in type or generation expression after the extract's snapshot was taken, .*; rerun the extract/);
  t.true(await noManifest(store), 'no manifest');
  const rerun = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  t.is(rerun.code, 0, rerun.stderr);
  recordFault(t, { fault: 'virtual generated column SET EXPRESSION between snapshot and lock', stage: 'extract', outcome: exitOutcome(result) });
});

test('schemas swapped (ALTER SCHEMA … RENAME takes no table lock) before the snapshot\'s lock or under a held snapshot fail the run by name; a table is never copied with another\'s rows', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  await setup.query(`CREATE SCHEMA app; CREATE SCHEMA app_new;
                     CREATE TABLE app.users (id int PRIMARY KEY, name text); INSERT INTO app.users SELECT g, 'old' || g FROM generate_series(1, 5) g;
                     CREATE TABLE app_new.users (id int PRIMARY KEY, name text); INSERT INTO app_new.users SELECT g, 'new' || g FROM generate_series(1, 3) g; ANALYZE`);
  const swap = 'ALTER SCHEMA app RENAME TO app_swap; ALTER SCHEMA app_new RENAME TO app; ALTER SCHEMA app_swap RENAME TO app_new';
  const refusal = /^extract: error: table app\.users: its name no longer finds the snapshot's table \(it was dropped, or it or its schema renamed, after the extract's snapshot was taken\), .*; rerun the extract\n$/;
  const env = (store: string) => ({ DATABASE_URL: url, STORE: store, RUN: 'r', SCHEMAS: 'app' });

  // Between the snapshot and its lock: the lock, by name, waits for the old table, then takes the new one.
  const store = await tempDir();
  const result = await extractAcrossDdl(t, url, `LOCK TABLE app.users; ${swap}`, env(store));
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, refusal);
  t.true(await noManifest(store), 'no manifest');

  // Under a coordinator's snapshot, held for its shards: its locks do not keep a schema from being renamed.
  const held = await tempDir();
  // The first swap was committed: app.users is now the table of 3 rows, app_new.users the one of 5.
  const rows = Number((await setup.query<{ n: string }>('SELECT count(*) AS n FROM app.users')).rows[0]!.n);
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  let ready!: () => void;
  const planned = new Promise<void>((resolve) => { ready = resolve; });
  const holding = holdSnapshot({ databaseUrl: url, store: held, run: 'r', concurrency: 1, schemas: ['app'], gzipLevel: 1, log: () => {} }, () => ready(), stopped);
  await Promise.race([planned, holding]);
  await setup.query(swap);
  const shard = await runCli('extract/cli.ts', ['--quiet', '--shard', '1/1'], env(held));
  t.is(shard.code, 1, shard.stderr);
  t.regex(shard.stderr, refusal);
  // Swapped back, the shard reads the snapshot's table.
  await setup.query(swap);
  const again = await runCli('extract/cli.ts', ['--quiet', '--shard', '1/1'], env(held));
  t.is(again.code, 0, again.stderr);
  const finalized = await runCli('extract/cli.ts', ['--quiet', 'finalize'], env(held));
  t.is(finalized.code, 0, finalized.stderr);
  t.is((JSON.parse(finalized.stdout) as { rows: number }).rows, rows, 'app.users as the snapshot had it');
  stop();
  await holding;
  recordFault(t, { fault: 'schemas swapped before the lock, or under a held snapshot', stage: 'extract', outcome: `${exitOutcome(result)}; shard: ${exitOutcome(shard)}` });
});

test('a table dropped or renamed between the snapshot and its lock fails the run by name, not as an internal error', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  const outcomes: string[] = [];
  for (const ddlSql of ['DROP TABLE gone', 'ALTER TABLE gone RENAME TO went']) {
    await setup.query('DROP TABLE IF EXISTS went; CREATE TABLE gone (id int PRIMARY KEY); INSERT INTO gone VALUES (1)');
    const store = await tempDir();
    const result = await extractAcrossDdl(t, url, ddlSql, { DATABASE_URL: url, STORE: store, RUN: 'r' });
    t.is(result.code, 1, `${ddlSql}: exit ${result.code}`);
    t.regex(result.stderr, /^extract: error: table gone: its name no longer finds the snapshot's table \(it was dropped, or it or its schema renamed, after the extract's snapshot was taken\), .*; rerun the extract\n$/, ddlSql);
    t.true(await noManifest(store), `${ddlSql}: no manifest`);
    outcomes.push(`${ddlSql}: ${exitOutcome(result)}`);
  }
  recordFault(t, { fault: 'table dropped or renamed between snapshot and lock', stage: 'extract', outcome: outcomes.join('; ') });
});

test('a REINDEX while extract runs neither waits for the extract nor stops it: the snapshot\'s column check holds no lock on indexes', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 400_000);
  const store = await tempDir();
  const extracting = runCli('extract/cli.ts', ['--quiet', '--concurrency', '1', '--split-rows', '10000000', '--split-bytes', '0'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  const watcher = await session(t, url);
  await until(watcher, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY%aaa_slow%') AS ok`, 'the COPY of aaa_slow', extracting);
  const ddl = await session(t, url);
  // Bounded, so a REINDEX queued behind the extract lets its worker go on and the test ends: the worker waited behind it forever.
  await ddl.query(`SET lock_timeout = '20s'`);
  const started = Date.now();
  await t.notThrowsAsync(ddl.query('REINDEX INDEX zz_small_pkey'));
  t.true(Date.now() - started < 15_000, `REINDEX took ${Date.now() - started} ms`);
  const result = await extracting;
  t.is(result.code, 0, result.stderr);
  recordFault(t, { fault: 'REINDEX of a table\'s index while extract runs', stage: 'extract', outcome: exitOutcome(result) });
});

test('a REINDEX of a split table while extract copies its parts waits only for the part being copied, not for the extract: neither the plan nor a copied part keeps an index lock', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { load: false });
  await addTables(url, 400_000);
  // Copied after aaa_slow's parts (its own are smaller): the extract runs on once aaa_slow is done.
  const setup = await session(t, url);
  await setup.query(`CREATE TABLE bbb_after AS SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, 1000000) g;
                     ALTER TABLE bbb_after ADD PRIMARY KEY (id); ANALYZE`);
  const store = await tempDir();
  // One worker copies aaa_slow's four parts in turn: the plan's boundaries and each part's COPY plan with its index.
  const extracting = runCli('extract/cli.ts', ['--quiet', '--concurrency', '1', '--split-rows', '100000', '--split-bytes', '0'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  const watcher = await session(t, url);
  // A part after the first: the first part's COPY, and the plan, have planned with the index by then.
  await until(watcher, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY%aaa_slow%>=%') AS ok`, 'a later COPY of aaa_slow', extracting);
  const ddl = await session(t, url);
  // Bounded, so a REINDEX queued behind the extract cannot outlast the test.
  await ddl.query(`SET lock_timeout = '60s'`);
  await t.notThrowsAsync(ddl.query('REINDEX INDEX aaa_slow_pkey'));
  // Done while the worker still copies (bbb_after is left): had it waited for a lock kept to the worker's end, the
  // worker's session would be gone.
  const copying = await watcher.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                                                          AND application_name = 'pg2ddb-extract-worker') AS ok`);
  t.true(copying.rows[0]!.ok, 'the REINDEX waited for the extract\'s worker to end');
  const result = await extracting;
  t.is(result.code, 0, result.stderr);
  recordFault(t, { fault: 'REINDEX of a split table\'s index while extract copies its parts', stage: 'extract', outcome: exitOutcome(result) });
});

test('an enum label renamed or a composite type altered after the snapshot fails the part copied since, by name; a label added or a type or attribute renamed passes', async (t) => {
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  // Reached through a domain over an array, an array of a composite, and a composite's attribute.
  await setup.query(`CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE DOMAIN moods AS mood[];
                     CREATE TYPE pair AS (a int, feeling mood); CREATE TYPE outer_pair AS (p pair, n text);
                     CREATE TABLE typed (id int PRIMARY KEY, ms moods, ps pair[], o outer_pair);
                     INSERT INTO typed VALUES (1, '{ok,sad}', ARRAY[ROW(1, 'ok')::pair], ROW(ROW(2, 'sad'), 'x'))`);
  const cases: [string, RegExp | undefined][] = [
    ["ALTER TYPE mood ADD VALUE 'glad' BEFORE 'ok'", undefined],
    ["ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'", /^table typed: type (public\.)?mood of its columns was changed \(ALTER TYPE/],
    ['ALTER TYPE pair ADD ATTRIBUTE c int', /^table typed: type (public\.)?pair of its columns was changed/],
    ['ALTER TYPE outer_pair DROP ATTRIBUTE n', /^table typed: type (public\.)?outer_pair of its columns was changed/],
    // No attribute's name is in a composite's text.
    ['ALTER TYPE pair RENAME ATTRIBUTE a TO b', undefined],
    // A type's name is in no value's text.
    ['ALTER TYPE pair RENAME TO pair2', undefined],
  ];
  for (const [ddlSql, refused] of cases) {
    const snapshot = await exportSnapshot(url);
    t.teardown(() => snapshot.close());
    await setup.query(ddlSql);
    const worker = await joinSnapshot(url, snapshot.id);
    t.teardown(() => worker.end());
    const table = (await listSourceTables(worker, ['public'])).find((s) => s.name === 'typed')!;
    if (refused) await t.throwsAsync(checkTypes(worker, table), { message: refused }, ddlSql);
    else await t.notThrowsAsync(checkTypes(worker, table), ddlSql);
  }
});

test('an enum label renamed is refused through a range or multirange over the enum, and when a new label takes its old name and place', async (t) => {
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  const cases: [string, string, string][] = [
    // COPY prints a range's bounds with the enum's labels: '[x,b)' for the snapshot's '[a,b)'.
    ['ranged', `CREATE TYPE level AS ENUM ('a', 'b'); CREATE TYPE levels AS RANGE (subtype = level);
                CREATE TABLE ranged (id int PRIMARY KEY, r levels, m levels_multirange)`, "ALTER TYPE level RENAME VALUE 'a' TO 'x'"],
    // The labels now read x, a, b: the snapshot's a and b are there in order, but its 'a' values hold the OID now labelled 'x'.
    ['readded', `CREATE TYPE grade AS ENUM ('a', 'b'); CREATE TABLE readded (id int PRIMARY KEY, g grade)`,
     "ALTER TYPE grade RENAME VALUE 'a' TO 'x'; ALTER TYPE grade ADD VALUE 'a' BEFORE 'b'"],
  ];
  for (const [name, ddl, change] of cases) {
    await setup.query(ddl);
    const snapshot = await exportSnapshot(url);
    t.teardown(() => snapshot.close());
    await setup.query(change);
    const worker = await joinSnapshot(url, snapshot.id);
    t.teardown(() => worker.end());
    const table = (await listSourceTables(worker, ['public'])).find((s) => s.name === name)!;
    await t.throwsAsync(checkTypes(worker, table), { message: new RegExp(`^table ${name}: type (public\\.)?(level|grade) of its columns was changed`) }, change);
  }
});

test('an ALTER TABLE queued behind the snapshot\'s lock on a table whose row type another table\'s column uses stops no worker forever: refused by name before the COPY, or waits for the extract', async (t) => {
  t.timeout(60_000);
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  // t is empty: COPY prints no row of o, and only the type check reads o's definition (PostgreSQL opens o to read it).
  await setup.query('CREATE TABLE o (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY, b o[])');
  const queue = async () => {
    const ddl = await session(t, url);
    await ddl.query(`SET lock_timeout = '20s'`);
    const altering = ddl.query('ALTER TABLE o ADD COLUMN z int').catch(() => {});
    while (!(await setup.query(`SELECT 1 FROM pg_locks WHERE relation = 'o'::regclass AND NOT granted`)).rowCount) await new Promise((r) => setTimeout(r, 50));
    return { ddl, altering };
  };
  for (const queuedFirst of [true, false]) {
    const snapshot = await exportSnapshot(url);
    const tables = await listSourceTables(snapshot.client, ['public']);
    await lockSnapshotTables(snapshot.client, tables, 30);
    const worker = await joinSnapshot(url, snapshot.id);
    const table = tables.find((s) => s.name === 't')!;
    let queued = queuedFirst ? await queue() : undefined;
    const started = Date.now();
    if (queuedFirst) {
      await t.throwsAsync(lockForCopy(worker, table), { message: /^table t: another session is waiting to change table (public\.)?o \(TRUNCATE/ });
    } else {
      await lockForCopy(worker, table);
      queued = await queue();
      // Waited until the ALTER's lock_timeout (20 s) ended it: the check waited behind it.
      await t.notThrowsAsync(checkTypes(worker, table));
    }
    t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    await worker.end();
    await snapshot.close();
    await queued!.altering;
  }
});

test('a worker whose role may read a table, but neither the table whose row type its column uses nor the schema of its enum, copies it: COPY asks neither', async (t) => {
  const url = await freshDatabase(t, { load: false });
  const setup = await session(t, url);
  const role = `r37_${process.pid}_${Date.now()}`;
  // LOCK asks SELECT on o; naming ty.mood (as NULL::ty.mood) asks USAGE on ty.
  await setup.query(`CREATE SCHEMA ty; CREATE TYPE ty.mood AS ENUM ('ok'); CREATE TYPE ty.pair AS (a int, m ty.mood);
                     CREATE TABLE o (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY, b o, m ty.mood, p ty.pair); INSERT INTO t VALUES (1, ROW(1), 'ok', ROW(1, 'ok'));
                     CREATE ROLE ${role} LOGIN PASSWORD 'r37'; GRANT SELECT ON t TO ${role}`);
  const dropRole = () => setup.query(`REVOKE ALL ON t FROM ${role}; DROP ROLE IF EXISTS ${role}`).catch(() => {});
  t.teardown(dropRole);
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = 'r37';
  const snapshot = await exportSnapshot(asRole.href);
  t.teardown(() => snapshot.close().catch(() => {}));
  const worker = await joinSnapshot(asRole.href, snapshot.id);
  t.teardown(() => worker.end().catch(() => {}));
  const table = (await listSourceTables(worker, ['public'])).find((s) => s.name === 't')!;
  await t.notThrowsAsync(lockForCopy(worker, table).then(() => checkTypes(worker, table)));
  await worker.end();
  await snapshot.close();
  await dropRole();
});
