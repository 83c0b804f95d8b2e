// Issue 5, faults 1 and 2 for extract: the PostgreSQL backend terminated in the
// middle of a COPY (pg_terminate_backend from another session), and the
// extract process killed with SIGKILL at several points. Either way nothing
// incomplete is published or listed as done, and a rerun ends with the files
// of an uninterrupted run.
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { runExtract } from '../extract/extract.ts';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
import { freshDatabase } from './stack.ts';
import { EXTRACT_MANIFEST_KEY } from '../lib/run-layout.ts';

const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-faults-extract-'));
/** Temp files live in `<run>/.tmp/` (lib/temp-files.ts). */
const TEMP = /(^|\/)\.tmp\//;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { return await fn(client); } finally { await client.end(); }
}

/** A table large enough that its COPY is still running when the test acts; it sorts first (largest first). */
async function addSlowTable(url: string, rows: number): Promise<void> {
  await withClient(url, (c) => c.query(`CREATE TABLE aaa_slow AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, ${rows}) g;
                                        ALTER TABLE aaa_slow ADD PRIMARY KEY (id); ANALYZE aaa_slow`));
}

/** Every file name under `dir`, relative (while another process writes there). */
async function names(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Every file under `dir`, relative, with its sha256 (temp files included, so leftovers show). */
async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out[path.relative(dir, full)] = createHash('sha256').update(await readFile(full)).digest('hex');
    }
  };
  await walk(dir);
  return out;
}

/** A manifest without what differs between two snapshots of the same data. */
const content = (m: ExtractManifest) => m.tables.map((e) => ({ name: e.name, columns: e.columns, rows: e.rows, parts: e.parts }));

test('a backend terminated mid-COPY fails the run naming the table, publishes no manifest and no part; a rerun succeeds', async (t) => {
  t.timeout(60_000);
  const url = await freshDatabase(t);
  await addSlowTable(url, 300_000);
  const store = await tempDir();
  // One part for aaa_slow, so the part terminated is the only one it has.
  const extracting = runCli('extract/cli.ts', ['--quiet', '--concurrency', '2', '--split-rows', '1000000', '--split-bytes', '0'], { DATABASE_URL: url, STORE: store, RUN: 'r' });

  const killer = new pg.Client({ connectionString: url });
  await killer.connect();
  t.teardown(() => killer.end());
  let terminated = 0;
  for (let i = 0; i < 1000 && terminated === 0; i++) {
    const { rows } = await killer.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'COPY%aaa_slow%'`);
    terminated = rows.filter((r) => r.ok).length;
    if (terminated === 0) await new Promise((r) => setTimeout(r, 10));
  }
  t.is(terminated, 1, 'the COPY of aaa_slow was terminated while it ran');

  const result = await extracting;
  t.is(result.code, 1);
  t.regex(result.stderr, /^extract: error: table aaa_slow: (terminating connection due to administrator command|Connection terminated unexpectedly)\n$/);
  t.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  const listed = (await openStorage(store).sub('r').list('')).map((o) => o.key);
  t.false(listed.includes(EXTRACT_MANIFEST_KEY), 'no manifest');
  t.deepEqual(Object.keys(await files(path.join(store, 'r', 'extract', 'aaa_slow'))), [], 'no part of aaa_slow, not even a temp file');

  const rerun = await runCli('extract/cli.ts', ['--quiet', '--concurrency', '2'], { DATABASE_URL: url, STORE: store, RUN: 'r' });
  t.is(rerun.code, 0, rerun.stderr);
  const manifest = (await readExtractManifest(openStorage(store).sub('r')))!;
  const slow = manifest.tables.find((e) => e.name === 'aaa_slow')!;
  t.is(slow.rows, 300_000);
  recordFault(t, {
    fault: 'pg_terminate_backend mid-COPY', stage: 'extract', outcome: `${exitOutcome(result)}; rerun ${exitOutcome(rerun)}`,
    rows_in: manifest.tables.reduce((n, e) => n + e.rows, 0),
  });
});

test('an extract killed with SIGKILL at several points, then rerun, ends with the files of an uninterrupted run; nothing incomplete is ever listed', async (t) => {
  t.timeout(90_000);
  const url = await freshDatabase(t);
  await addSlowTable(url, 60_000);
  const reference = await tempDir();
  await runExtract({ databaseUrl: url, store: reference, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: () => {} });

  const killed = await tempDir();
  const runDir = path.join(killed, 'r');
  const storage = openStorage(killed).sub('r');
  const onDisk = () => names(runDir);
  // Kill while a temp file is being written, after some tables are published, and at fixed delays.
  const kills: { when: string; ready: (found: string[], ms: number) => boolean }[] = [
    { when: 'mid-write of a file', ready: (found) => found.some((n) => TEMP.test(n)) },
    { when: 'after 3 parts', ready: (found) => found.filter((n) => n.endsWith('.csv.gz')).length >= 3 },
    { when: 'at 1.5 s', ready: (_found, ms) => ms >= 1500 },
    { when: 'after 12 parts', ready: (found) => found.filter((n) => n.endsWith('.csv.gz')).length >= 12 },
  ];
  let interrupted = 0;
  for (const kill of kills) {
    const child = spawn(process.execPath, cliArgv('extract/cli.ts', ['--store', killed, '--run', 'r', '--concurrency', '2', '--quiet']), {
      cwd: REPO, env: { ...process.env, DATABASE_URL: url, TABLE: '' }, stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let finished = false;
    void exited.then(() => { finished = true; });
    const started = Date.now();
    while (!finished && Date.now() - started < 30_000) {
      if (kill.ready(await onDisk(), Date.now() - started)) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    if (!finished) { child.kill('SIGKILL'); interrupted++; }
    await exited;
    // What storage lists is only ever complete objects; with no manifest, nothing claims a table as done.
    const listed = (await storage.list('')).map((o) => o.key);
    t.deepEqual(listed.filter((k) => TEMP.test(k)), [], `${kill.when}: no temp file listed`);
    if (!finished) t.false(listed.includes(EXTRACT_MANIFEST_KEY), `${kill.when}: killed before the manifest`);
  }
  t.true(interrupted >= 3, `at least three runs were killed mid-way (${interrupted})`);

  const rerun = await runCli('extract/cli.ts', ['--quiet', '--concurrency', '2'], { DATABASE_URL: url, STORE: killed, RUN: 'r' });
  t.is(rerun.code, 0, rerun.stderr);
  const [want, got] = [(await readExtractManifest(openStorage(reference).sub('r')))!, (await readExtractManifest(storage))!];
  t.deepEqual(content(got), content(want));
  const [wantFiles, gotFiles] = [await files(path.join(reference, 'r')), await files(runDir)];
  // The manifest differs by snapshot (compared above); report.json holds the CLIs' timings.
  for (const key of [EXTRACT_MANIFEST_KEY, 'report.json']) {
    delete wantFiles[key];
    delete gotFiles[key];
  }
  t.deepEqual(gotFiles, wantFiles, 'the same files, and no temp file left behind');
  recordFault(t, {
    fault: `SIGKILL at ${kills.length} points (${interrupted} mid-run)`, stage: 'extract', outcome: `killed; rerun ${exitOutcome(rerun)}`,
    rows_in: got.tables.reduce((n, e) => n + e.rows, 0),
    identical: isDeepStrictEqual(content(got), content(want)) && isDeepStrictEqual(gotFiles, wantFiles),
  });
});
